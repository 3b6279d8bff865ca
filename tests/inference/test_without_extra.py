"""Without the `distributed` extra (no ray, no pyarrow) every path that needs it says how to install it."""

import sys

import pytest
from inference_texts import ARTICLE

from dangtopic.cli import main
from dangtopic.data.readers import DISTRIBUTED_INSTALL, iter_records

INSTALL = "pip install 'dangtopic[distributed]'"


@pytest.fixture()
def no_extra(monkeypatch):
    """ray and pyarrow unimportable, as in a base install."""
    for name in ("ray", "ray.data", "pyarrow", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)


def test_install_line():
    assert DISTRIBUTED_INSTALL == INSTALL


def test_parquet_input_is_an_error_record_naming_the_extra(no_extra, tmp_path):
    p = tmp_path / "feed.parquet"
    p.write_bytes(b"PAR1")
    (rec,) = iter_records([str(p)])
    assert rec.error == f"reading Parquet needs pyarrow: {INSTALL}"


def test_parquet_output_and_ray_engine_refuse_with_the_install_line(no_extra, tmp_path, capsys):
    from dangtopic.inference.ray_engine import require_ray
    from dangtopic.inference.writers import ParquetWriter

    with pytest.raises(ImportError, match=r"pip install 'dangtopic\[distributed\]'"):
        ParquetWriter(tmp_path / "o.parquet")
    with pytest.raises(ImportError, match=r"pip install 'dangtopic\[distributed\]'"):
        require_ray()
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["predict", str(src), "-o", str(out), "--engine", "ray", "-q"]) == 2
    assert INSTALL in capsys.readouterr().err
    assert not out.exists()


def test_ray_options_need_the_ray_engine(tmp_path, capsys):
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    out = str(tmp_path / "o.jsonl")
    assert main(["predict", str(src), "-o", out, "--actors", "2", "-q"]) == 2
    assert "--actors only apply to --engine ray" in capsys.readouterr().err
    assert main(["predict", str(src), "-o", out, "--engine", "ray", "--num-workers", "2", "-q"]) == 2
    assert "--num-workers is for the local engine" in capsys.readouterr().err
    assert main(["predict", str(src), "-o", out, "--engine", "ray", "--actors", "0", "-q"]) == 2
