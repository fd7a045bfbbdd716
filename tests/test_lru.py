"""The cache of loaded models: keeps the entries used last, forgets the oldest, refuses a size below one."""

import pytest

from core import lru


def test_keeps_the_entries_used_last():
    cache = lru.LruCache(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the one used last
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2


def test_discards_stale_entries_and_clears():
    cache = lru.LruCache(size=4)
    for version in range(3):
        cache.put(("run", version), version)
    cache.discard(lambda key: key[1] < 2)
    assert cache.get(("run", 0)) is None and cache.get(("run", 2)) == 2
    cache.clear()
    assert len(cache) == 0


def test_a_cache_holds_at_least_one_entry():
    with pytest.raises(ValueError, match="at least 1"):
        lru.LruCache(size=0)
