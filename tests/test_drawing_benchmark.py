"""The drawn-digit benchmark's quick mode runs end to end and prints its table."""

import json

from bench import drawing


def test_quick_mode_scores_an_architecture_on_drawn_digits(tmp_path, capsys):
    out = tmp_path / "drawing.json"
    assert drawing.main(["--quick", "--out", str(out), "--architectures", "ann"]) == 0
    results = json.loads(out.read_text())
    row = results["architectures"][0]
    assert row["architecture"] == "ann" and results["drawn_count"] == 50
    assert 0.0 <= row["drawn_accuracy"] <= 1.0 and 0.0 <= row["sample_test_accuracy"] <= 1.0
    assert 0.0 <= row["pen_writers_accuracy"] <= 1.0 and row["pen_writers_count"] == 100
    assert "| `ann` | MNIST sample (offline) | 1 |" in capsys.readouterr().out
