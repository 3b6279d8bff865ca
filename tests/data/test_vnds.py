"""VNDS helpers: detokenisation, abstract splitting, record parsing and the streaming reader."""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path

import pytest

from dangtopic.data.labels import default_labels_dir
from dangtopic.data.text import detokenize_vnds
from dangtopic.data.vnds import default_vnds_dir, iter_vnds, parse_vnds_record, split_vnds_abstract


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Đà_Nẵng ngày 25/2 , trời mưa .", "Đà Nẵng ngày 25/2, trời mưa."),
        ("chị Phạm_Thị_Huyền ( SN 1997 ) kết_hôn .", "chị Phạm Thị Huyền (SN 1997) kết hôn."),
        ("nữ sinh “ mất tích ” bí_ẩn", "nữ sinh “mất tích” bí ẩn"),
        ('trang_phục " hở như bikini " bị chỉ_trích', 'trang phục "hở như bikini" bị chỉ trích'),
        ('a " b " c " d "', 'a "b" c "d"'),
        ("đạt 12,33 % ; giảm [ 3 ] lần", "đạt 12,33%; giảm [3] lần"),
        ("ông ‘ A ’ nói : “ Tốt ” !", "ông ‘A’ nói: “Tốt”!"),
        ("Vì sao ? Ôi … thật", "Vì sao? Ôi… thật"),
        ("TP. HCM có 3.787 đảng_viên", "TP. HCM có 3.787 đảng viên"),
        ("  Nghị_quyết   18-NQ/TW \n về tinh_gọn  ", "Nghị quyết 18-NQ/TW về tinh gọn"),
    ],
)
def test_detokenize_vnds(raw, expected):
    assert detokenize_vnds(raw) == expected


def test_detokenize_vnds_is_nfc_for_nfd_input():
    raw = unicodedata.normalize("NFD", "Kết_nạp đảng_viên mới .")
    out = detokenize_vnds(raw)
    assert out == "Kết nạp đảng viên mới." and unicodedata.is_normalized("NFC", out)


@pytest.mark.parametrize(
    ("abstract", "expected"),
    [
        ("Câu một . Câu hai ! Câu ba ?", ["Câu một.", "Câu hai!", "Câu ba?"]),
        (
            "Ở TP. HCM có 3.787 đảng_viên . Tỉnh kết_nạp 12,5 % .",
            ["Ở TP. HCM có 3.787 đảng viên.", "Tỉnh kết nạp 12,5%."],
        ),
        ("Chỉ một câu không có dấu chấm", ["Chỉ một câu không có dấu chấm"]),
        ("Cao_độ … Rồi ra về .", ["Cao độ…", "Rồi ra về."]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_vnds_abstract(abstract, expected):
    assert split_vnds_abstract(abstract) == expected


RAW = {
    "id": "val/000042",
    "title": "Kết_nạp 500 đảng_viên mới",
    "abstract": "Tỉnh đã kết_nạp 500 đảng_viên . Vượt chỉ_tiêu 20 % .",
    "paragraphs": [["Câu thân_bài một .", " ", "Câu thân_bài hai ."], ["Câu ba ( ghi_chú ) ."]],
}


def test_parse_vnds_record_and_labelled_order():
    a = parse_vnds_record(RAW)
    assert a.id == "val/000042"
    assert a.title == "Kết nạp 500 đảng viên mới"
    assert a.abstract_sentences == ["Tỉnh đã kết nạp 500 đảng viên.", "Vượt chỉ tiêu 20%."]
    assert a.sentences == ["Câu thân bài một.", "Câu thân bài hai.", "Câu ba (ghi chú)."]
    assert a.labelled_sentences[0] == a.title and a.labelled_sentences[1] == a.abstract_sentences[0]
    assert len(a.labelled_sentences) == 1 + 2 + 3


def test_iter_vnds_streams_a_split_with_limit(tmp_path):
    with gzip.open(tmp_path / "vnds_val.jsonl.gz", "wt", encoding="utf-8") as f:
        for i in range(5):
            f.write(json.dumps({**RAW, "id": f"val/{i}"}, ensure_ascii=False) + "\n")
        f.write("\n")
    assert [a.id for a in iter_vnds("val", root=tmp_path)] == [f"val/{i}" for i in range(5)]
    assert [a.id for a in iter_vnds("val", root=tmp_path, limit=2)] == ["val/0", "val/1"]
    with pytest.raises(ValueError, match="unknown VNDS split"):
        next(iter_vnds("dev", root=tmp_path))
    with pytest.raises(FileNotFoundError):
        next(iter_vnds("test", root=tmp_path))


VNDS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vnds"


@pytest.mark.slow
def test_real_vnds_first_articles_are_detokenised():
    if not (VNDS_DIR / "vnds_val.jsonl.gz").is_file():
        pytest.skip(f"VNDS not available: {VNDS_DIR}")
    arts = list(iter_vnds("val", root=VNDS_DIR, limit=20))
    assert len(arts) == 20
    for a in arts:
        assert a.title and a.sentences
        assert not any("_" in s for s in a.sentences[:5])
        assert not any(" ," in s or " ." in s[-2:] for s in a.sentences)


def test_iter_vnds_id_filter(tmp_path):
    import gzip
    import json

    from dangtopic.data.vnds import iter_vnds

    path = tmp_path / "vnds_train.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i in range(5):
            rec = {
                "id": f"train/{i:06d}",
                "title": f"Tiêu_đề {i}",
                "abstract": "Tóm_tắt .",
                "paragraphs": [["Câu ."]],
            }
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    got = [a.id for a in iter_vnds("train", tmp_path, ids={"train/000001", "train/000004"})]
    assert got == ["train/000001", "train/000004"]
    assert [a.title for a in iter_vnds("train", tmp_path, limit=2)] == ["Tiêu đề 0", "Tiêu đề 1"]


def test_default_dirs_follow_env_then_shared_beside_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("DANGTOPIC_VNDS_DIR", str(tmp_path / "v"))
    assert default_vnds_dir() == tmp_path / "v"
    monkeypatch.delenv("DANGTOPIC_VNDS_DIR")
    monkeypatch.delenv("DANGTOPIC_LABELS", raising=False)
    for part in ("vnds", "labels"):
        (tmp_path / "shared" / "data" / part).mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert default_vnds_dir() == tmp_path / "shared" / "data" / "vnds"
    assert default_labels_dir() == tmp_path / "shared" / "data" / "labels"
