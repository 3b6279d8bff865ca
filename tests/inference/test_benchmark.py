import json
import re

import pytest
from inference_texts import ARTICLE, ARTICLE_2

from dangtopic.cli import main
from dangtopic.data.labels import hand_label_files
from dangtopic.data.vnds import default_vnds_dir


def test_benchmark_prints_speed_and_accuracy_cost(tmp_path, tiny_model_dir, capsys):
    # The speed sentences come from the shared hand labels, else VNDS test (as in the other data tests).
    if (
        not all(p.exists() for p in hand_label_files())
        and not (default_vnds_dir() / "vnds_test.jsonl.gz").is_file()
    ):
        pytest.skip("shared hand labels and VNDS both unavailable")
    arts = tmp_path / "arts"
    arts.mkdir()
    (arts / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (arts / "b.txt").write_text(ARTICLE_2, encoding="utf-8")
    out_json = tmp_path / "bench.json"
    argv = ["benchmark", "--model", str(tiny_model_dir), "--sentences", "40", "--repeat", "1"]
    argv += ["--articles", str(arts), "--json", str(out_json), "--threads", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for name in ("fp32", "int8", "bf16"):
        assert re.search(rf"^\| {name} \| \d+\.\d \| \d+\.\d \| \d+\.\d\dx \|", out, re.M), out
    assert "ms/article" in out
    res = json.loads(out_json.read_text())
    assert res["sentences"] == 40 and res["threads"] == 1
    assert set(res["tagging"]) == {"fp32", "int8", "bf16"}
    assert res["pipeline"]["articles"] == 2
    assert res["pipeline"]["fp32"]["ms_per_article"] > 0
    # the reference row encodes every article twice; the tiny tagger adapts all layers, so nothing is shared
    assert res["pipeline"]["separate"]["shared_layers"] is None is res["pipeline"]["fp32"]["shared_layers"]
    assert 0 <= res["pipeline"]["fp32"]["same_summary"] <= 1
    assert 0 <= res["pipeline"]["bf16"]["same_summary"] <= 1
    assert 0 <= res["pipeline"]["int8"]["same_sentence_labels"] <= 1
    if "micro_f1" in res["tagging"]["fp32"]:  # the shared hand labels are present
        a = res["agreement"]["int8"]
        assert 0 <= a["same_label_set"] <= 1 and a["test_sentences"] > 100
        assert (
            abs(
                a["micro_f1_change"]
                - (res["tagging"]["int8"]["micro_f1"] - res["tagging"]["fp32"]["micro_f1"])
            )
            < 1e-9
        )


def test_benchmark_writes_its_tables_into_the_model_cards(tmp_path, tiny_model_dir, capsys):
    import shutil

    from dangtopic.models.saving import write_card

    if not all(p.exists() for p in hand_label_files()):
        pytest.skip("shared hand labels unavailable")
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    for part in ("tagger", "summarizer"):
        (model / part / "README.md").write_text(f"# {part} card\n", encoding="utf-8")
    argv = ["benchmark", "--model", str(model), "--sentences", "20", "--repeat", "1", "--threads", "1"]
    argv += ["--fast-methods", "int8", "--articles", str(tmp_path / "none"), "--write-card"]
    for _ in range(2):  # a second run replaces the section instead of adding one
        assert main(argv) == 0
    capsys.readouterr()
    for part in ("tagger", "summarizer"):
        card = (model / part / "README.md").read_text(encoding="utf-8")
        assert card.startswith(f"# {part} card\n") and card.count("## Speed") == 1
        row = r"^\| int8 \| \d+\.\d \| \d+\.\d \| \d+\.\d\dx \| 0\.\d{4} \| [+-]0\.\d{4} \| \d+\.\d% \| \d\.\d{3} \|$"
        assert re.search(row, card, re.M), card
        # regenerating the card (as the evaluation commands do) keeps the speed section at its end
        write_card(model / part, f"# new {part} card\n")
        again = (model / part / "README.md").read_text(encoding="utf-8")
        assert again.startswith(f"# new {part} card\n") and again.endswith(card[card.index("<!-- speed") :])


@pytest.mark.parametrize(
    "extra, says",
    [
        (["--fast-methods", "int8,auto"], "--fast-methods takes int8, bf16 and distilled, not auto"),
        (["--soak", "5", "--write-card"], "--write-card writes the tagging and pipeline tables"),
        (["--engine", "ray", "--write-card"], "--write-card writes the tagging and pipeline tables"),
    ],
)
def test_benchmark_refuses_what_it_cannot_do_before_loading_anything(extra, says, capsys):
    assert main(["benchmark", "--model", "/nonexistent", *extra]) == 2
    assert says in capsys.readouterr().err
