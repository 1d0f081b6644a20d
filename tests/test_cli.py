"""The `omnidex` console script as other programs use it: separate processes, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_pdf


def omnidex(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMNIDEX_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "omnidex.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_ingest_search_json_and_status(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_pdf(docs / "field-notes.pdf", ["Morning survey of the salt marsh.", "The avocets returned to the lagoon at dawn."])
    write_pdf(docs / "budget.pdf", ["Spending on ferry maintenance rose in spring."])
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    data = tmp_path / "data"

    first = omnidex(data, "ingest", "--quiet", str(docs))
    assert first.returncode == 0, first.stderr
    assert "2 indexed" in first.stdout and "1 failed" in first.stdout

    result = omnidex(data, "search", "avocets returned to the lagoon", "--json", "--limit", "3")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and set(rows[0]) >= {"path", "modality", "page", "t0", "t1", "score", "snippet"}
    assert Path(rows[0]["path"]).name == "field-notes.pdf" and rows[0]["page"] == 2
    assert rows[0]["modality"] == "text" and rows[0]["t0"] is None
    assert "avocets" in rows[0]["snippet"]

    typed = omnidex(data, "search", "avocets", "--json", "--type", "video")
    assert typed.returncode == 0 and typed.stdout.strip() == ""

    status = json.loads(omnidex(data, "status", "--json").stdout)
    assert status["files"] == {"indexed": 2, "failed": 1}
    assert status["points"] == 3

    again = omnidex(data, "ingest", "--quiet", str(docs))
    assert "0 indexed" in again.stdout and "2 unchanged" in again.stdout
    assert json.loads(omnidex(data, "status", "--json").stdout) == status

    failed = omnidex(data, "status", "--failed")
    assert "broken.pdf" in failed.stdout and "corrupt" in failed.stdout


def test_missing_path_is_reported(tmp_path: Path) -> None:
    result = omnidex(tmp_path / "data", "ingest", "--quiet", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "no such file or folder" in result.stderr


def test_a_large_limit_is_served_and_limits_out_of_range_are_refused_in_words(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for n in range(3):
        write_pdf(docs / f"notes{n}.pdf", [f"Notes {n} on the tone of the meeting and the tone of the reply."])
    data = tmp_path / "data"
    assert omnidex(data, "ingest", "--quiet", str(docs)).returncode == 0

    wide = omnidex(data, "search", "of the tone the", "--limit", "100")  # OverflowError in sigmoid() once
    assert wide.returncode == 0 and "Traceback" not in wide.stderr, wide.stderr
    assert "notes" in wide.stdout
    for limit in ("0", "1001", "-5", "ten"):
        refused = omnidex(data, "search", "tone", "--limit", limit)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert "argument --limit:" in refused.stderr and ("between 1 and 1000" in refused.stderr
                                                          or "not a number" in refused.stderr)


def test_service_parameters_out_of_range_are_refused(tmp_path: Path) -> None:
    import pytest

    from omnidex.service import InvalidRequest, Omnidex
    from tests.conftest import make_settings

    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        for kwargs in ({"limit": 0}, {"limit": 10**9}, {"diversity": 1.5}, {"diversity": float("nan")}):
            with pytest.raises(InvalidRequest, match=r"must be between"):
                app.search("tone", **kwargs)
        assert app.search("tone", limit=1000) == []
    finally:
        app.close()
