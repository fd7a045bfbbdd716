"""A small thread-safe cache that keeps the entries used last: the app's loaded models and their inspectors.

    cache = LruCache(size=8)
    cache.put(key, value)
    cache.get(key)            # None once `size` other keys were used since
"""

import collections
import threading
from collections.abc import Callable, Hashable


class LruCache:
    """At most `size` entries; putting one more forgets the one used longest ago. Every method holds a lock, so
    visitors' threads may share one cache."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"A cache holds at least 1 entry; got size {size}.")
        self.size = size
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default=None):
        """The value under `key` (now the one used last), or `default`."""
        with self._lock:
            if key not in self._entries:
                return default
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value) -> None:
        """Keeps `value` under `key` as the one used last, forgetting the oldest entries beyond `size`."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, stale: Callable[[Hashable], bool]) -> None:
        """Forgets every entry whose key `stale(key)` says is out of date."""
        with self._lock:
            for key in [key for key in self._entries if stale(key)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
