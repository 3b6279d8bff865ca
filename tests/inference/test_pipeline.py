import json
import unicodedata

import numpy as np
import pytest
from inference_texts import ARTICLE, ARTICLE_2

from dangtopic import LABELS
from dangtopic.inference.pipeline import ArticleResult, Pipeline, SentenceResult, Summary, _pack_windows


def _check_result(r: ArticleResult) -> None:
    assert isinstance(r, ArticleResult)
    assert r.sentences, "the article must keep its body sentences"
    assert [s.index for s in r.sentences] == list(range(len(r.sentences)))
    for s in r.sentences:
        assert isinstance(s, SentenceResult)
        assert list(s.scores) == list(LABELS)
        assert all(0.0 <= v <= 1.0 for v in s.scores.values())
        assert set(s.labels) <= set(LABELS)
    assert r.topic_counts == {lab: sum(lab in s.labels for s in r.sentences) for lab in LABELS}
    assert isinstance(r.summary, Summary)
    assert r.summary.sentence_indices, "a non-empty article gets a non-empty summary"
    assert all(0 <= i < len(r.sentences) for i in r.summary.sentence_indices)
    for i in r.summary.sentence_indices:
        assert r.sentences[i].text in r.summary.text


def test_single_article(pipe):
    r = pipe(ARTICLE)
    _check_result(r)
    assert r.title.startswith("Nâng cao chất lượng")
    # Page furniture is removed, not tagged.
    assert not any("Trang chủ" in s.text for s in r.sentences)
    assert any("kết nạp mới 3.787 đảng viên" in s.text for s in r.sentences)
    assert set(r.topic_summaries) == set(LABELS)


def test_list_in_list_out_and_batching_is_transparent(pipe):
    rs = pipe([ARTICLE, ARTICLE_2])
    assert isinstance(rs, list) and len(rs) == 2
    for r in rs:
        _check_result(r)
    alone = pipe(ARTICLE_2)
    assert [s.labels for s in rs[1].sentences] == [s.labels for s in alone.sentences]
    for a, b in zip(rs[1].sentences, alone.sentences, strict=True):
        np.testing.assert_allclose(list(a.scores.values()), list(b.scores.values()), atol=1e-5)
    assert rs[1].summary.sentence_indices == alone.summary.sentence_indices
    assert pipe([]) == []


def test_tag_sentences_shapes(pipe):
    one = pipe.tag_sentences("Toàn tỉnh đã kết nạp mới 3.787 đảng viên.")
    assert isinstance(one, SentenceResult) and one.index == 0
    many = pipe.tag_sentences(["Câu một về kết nạp đảng viên.", "Câu hai về kiểm tra, giám sát."])
    assert [s.index for s in many] == [0, 1]
    assert pipe.tag_sentences([]) == []
    with pytest.raises(TypeError):
        pipe.tag_sentences(["ok", 3])


def test_round_trip_through_json(pipe):
    r = pipe(ARTICLE)
    d = json.loads(json.dumps(r.to_dict(), ensure_ascii=False))
    back = ArticleResult.from_dict(d)
    assert back == r
    assert back.to_dict() == r.to_dict()
    assert ArticleResult.from_json(r.to_json()) == r


def test_nfc_and_nfd_articles_give_identical_results(pipe):
    nfc = pipe(unicodedata.normalize("NFC", ARTICLE))
    nfd = pipe(unicodedata.normalize("NFD", ARTICLE).replace(" ", "  "))
    assert [s.text for s in nfc.sentences] == [s.text for s in nfd.sentences]
    assert [s.labels for s in nfc.sentences] == [s.labels for s in nfd.sentences]
    for a, b in zip(nfc.sentences, nfd.sentences, strict=True):
        np.testing.assert_allclose(list(a.scores.values()), list(b.scores.values()), atol=1e-6)
    assert nfc.summary == nfd.summary


def test_topic_summary_uses_only_that_topics_sentences(pipe, monkeypatch):
    # Thresholds that make one topic fire everywhere, one nowhere and one on some sentences only.
    tags = pipe(ARTICLE, topic_summaries=False).sentences  # read in the article, as summarize() does
    lo = min(s.scores["membership"] for s in tags) / 2
    hi = (max(s.scores["training"] for s in tags) + 1) / 2
    vals = sorted({s.scores["inspection"] for s in tags})
    assert len(vals) >= 2 and lo > 0 and hi < 1
    cut = (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
    monkeypatch.setattr(
        pipe.tagger.config, "thresholds", {"membership": lo, "training": hi, "inspection": cut}
    )
    tags = pipe(ARTICLE, topic_summaries=False).sentences  # read in the article, as summarize() does
    allowed = {s.index for s in tags if "inspection" in s.labels}
    assert 0 < len(allowed) < len(tags)
    s = pipe.summarize(ARTICLE, topic="inspection")
    assert s.sentence_indices and set(s.sentence_indices) <= allowed
    none = pipe.summarize(ARTICLE, topic="training")
    assert none.text == "" and none.sentence_indices == [] and none.warnings
    r = pipe(ARTICLE)
    assert r.topic_counts["membership"] == len(r.sentences) and r.topic_counts["training"] == 0
    assert r.topic_summaries["training"].sentence_indices == []
    assert set(r.topic_summaries["inspection"].sentence_indices) <= allowed
    # Topic summaries share one embedding pass, and equal independent summarizer calls.
    art = pipe.ingest(ARTICLE)
    direct = pipe.summarizer.summarize(art.sentences, title=art.title, candidates=sorted(allowed))
    assert r.topic_summaries["inspection"] == direct
    assert "embed" not in vars(pipe.summarizer)
    with pytest.raises(ValueError, match="unknown topic"):
        pipe.summarize(ARTICLE, topic="economy")


def test_over_long_sentence_is_windowed_and_max_pooled(pipe):
    words = ("Ủy ban kiểm tra các cấp kiểm tra chấp hành tổ chức đảng và đảng viên, " * 30).split()
    long = " ".join(words) + "."
    short = "Toàn tỉnh đã kết nạp mới 3.787 đảng viên."
    res = pipe.tag_sentences([short, long])
    assert not res[0].warnings
    assert res[1].warnings and "window" in res[1].warnings[0]
    pieces, owners, split = pipe._windows([short, long])
    assert split == {1} and owners.count(1) >= 3
    # Every word is covered and no window exceeds the encoder limit.
    max_len = pipe.tagger.config.encoder.max_length
    enc = pipe.tagger.tokenizer(pipe.tagger.encoder.prepare(pieces), truncation=False)["input_ids"]
    assert all(len(ids) <= max_len for ids in enc)
    win_words = [w for p, o in zip(pieces, owners, strict=True) if o == 1 for w in p.split()]
    assert set(win_words) == set(long.split())
    probs = pipe.tagger.predict_proba([p for p, o in zip(pieces, owners, strict=True) if o == 1])
    np.testing.assert_allclose(list(res[1].scores.values()), probs.max(axis=0), atol=1e-5)
    art = pipe(ARTICLE.replace("Việc quán triệt", long + " Việc quán triệt"))
    assert any("window" in w for w in art.warnings)


def test_pack_windows_covers_everything_with_overlap():
    counts = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 40]
    wins = _pack_windows(counts, budget=20)
    assert wins[0][0] == 0 and wins[-1][1] == len(counts)
    for (a0, a1), (b0, _) in zip(wins, wins[1:], strict=False):
        assert b0 <= a1 and b0 > a0  # contiguous or overlapping, always progressing
    for a, b in wins:
        assert sum(counts[a:b]) <= 20 or b - a == 1


def test_empty_article_gives_empty_result_with_warning(pipe):
    r = pipe("   \n\n ")
    assert r.sentences == [] and r.summary.sentence_indices == []
    assert any("empty" in w for w in r.warnings)


def test_from_pretrained_folder_and_overrides(tiny_model_dir, tiny_tagger):
    p = Pipeline.from_pretrained(tiny_model_dir, device="cpu")
    r = p(ARTICLE)
    _check_result(r)
    ref = Pipeline(tiny_tagger, p.summarizer)(ARTICLE)
    assert [s.labels for s in r.sentences] == [s.labels for s in ref.sentences]
    p2 = Pipeline.from_pretrained(tiny_model_dir, tagger=tiny_tagger)
    assert p2.tagger is tiny_tagger
    with pytest.raises(FileNotFoundError):
        Pipeline.from_pretrained(tiny_model_dir / "nope")


def test_fast_path_quantises_and_stays_close(tiny_model_dir):
    import torch

    p32 = Pipeline.from_pretrained(tiny_model_dir, device="cpu")
    fast = Pipeline.from_pretrained(tiny_model_dir, device="cpu", fast="int8")
    mods = dict(fast.tagger.encoder.named_modules())
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in mods.values())
    # only the FFN output projections stay float (their inputs hold outliers)
    still_float = {n for n, m in mods.items() if type(m) is torch.nn.Linear}
    assert still_float and all(n.endswith(".output.dense") and "attention" not in n for n in still_float)
    assert type(fast.tagger.head[-1]) is torch.nn.Linear  # the head costs nothing: it stays float
    a, b = p32(ARTICLE), fast(ARTICLE)
    assert [s.text for s in a.sentences] == [s.text for s in b.sentences]
    # int8 changes the encoder's arithmetic: its sentence vectors must stay close to fp32's (a random tiny
    # head saturates and amplifies any difference, so scores are the wrong place to measure it)
    texts = [s.text for s in a.sentences]
    cos = torch.nn.functional.cosine_similarity(p32.tagger.embed(texts), fast.tagger.embed(texts))
    assert float(cos.min()) > 0.99
    assert fast.fast == "int8"


def test_bf16_fast_path(tiny_model_dir):
    import torch

    p32 = Pipeline.from_pretrained(tiny_model_dir, device="cpu")
    fast = Pipeline.from_pretrained(tiny_model_dir, device="cpu", fast="bf16")
    assert fast.fast == "bf16"
    assert {p.dtype for p in fast.tagger.encoder.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in fast.summarizer.encoder.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in fast.summarizer.scorer.parameters()} == {torch.float32}
    r = fast(ARTICLE)
    assert r.summary.sentence_indices and all(isinstance(v, float) for v in r.sentences[0].scores.values())
    a, b = (
        p32.tag_sentences(["Kết nạp đảng viên mới.", "Giảm 138 đầu mối."]),
        fast.tag_sentences(["Kết nạp đảng viên mới.", "Giảm 138 đầu mối."]),
    )
    assert all(isinstance(v, float) for s in b for v in s.scores.values())
    diff = max(abs(x.scores[k] - y.scores[k]) for x, y in zip(a, b, strict=True) for k in LABELS)
    assert diff < 0.1
    with pytest.raises(ValueError, match="fast method"):
        Pipeline.from_pretrained(tiny_model_dir, device="cpu", fast="fp8")


def test_long_article_is_fully_tagged_and_says_where_the_summary_comes_from(pipe, monkeypatch):
    body = "\n\n".join(
        f"Đoạn {i}: toàn tỉnh đã kết nạp mới {i} đảng viên trong tháng {i % 12 + 1}." for i in range(30)
    )
    monkeypatch.setattr(pipe.summarizer.config, "max_article_sentences", 10)
    r = pipe("Tiêu đề bài dài\n\n" + body)
    assert len(r.sentences) == 30
    assert all(0 <= i < 10 for i in r.summary.sentence_indices)
    assert any("first 10" in w for w in r.warnings)
    # The summariser encodes only what it can read: the title and the first 10 sentences, plus the
    # tagged ones for the topic summaries, which equal the summariser's own calls on the whole article.
    calls = []
    embed = pipe.summarizer.embed
    monkeypatch.setattr(pipe.summarizer, "embed", lambda texts: calls.append(len(texts)) or embed(texts))
    assert pipe("Tiêu đề bài dài\n\n" + body, topic_summaries=False).summary == r.summary
    assert calls == [11]
    tagged = {s.index for s in r.sentences if s.labels}
    calls.clear()
    r2 = pipe("Tiêu đề bài dài\n\n" + body)
    assert calls == [1 + len(set(range(10)) | tagged)]
    art = pipe.ingest("Tiêu đề bài dài\n\n" + body)
    for lab in pipe.labels:
        want = [s.index for s in r2.sentences if lab in s.labels]
        if want:
            direct = pipe.summarizer.summarize(art.sentences, title=art.title, candidates=want)
            assert r2.topic_summaries[lab] == direct


@pytest.mark.slow
def test_shipped_default_pipeline_on_a_bundled_example():
    from dangtopic.data.ingest import example_paths
    from dangtopic.models.summarizer import DEFAULT_SUMMARIZER_DIR
    from dangtopic.models.tagger import DEFAULT_TAGGER_DIR

    if (
        not (DEFAULT_TAGGER_DIR / "config.json").exists()
        or not (DEFAULT_SUMMARIZER_DIR / "config.json").exists()
    ):
        pytest.skip("shipped default models not present")
    pipe = Pipeline.from_pretrained(device="cpu")
    r = pipe(example_paths()[0].read_text(encoding="utf-8"))
    assert r.title and len(r.sentences) >= 5 and r.removed
    assert r.summary.text and sum(r.topic_counts.values()) > 0
    # The guidelines' worked examples, one per label.
    examples = {
        "membership": "Toàn tỉnh đã kết nạp mới 3.787 đảng viên, nâng tổng số lên 28.087 đảng viên.",
        "inspection": "Cấp ủy, ủy ban kiểm tra các cấp kiểm tra chấp hành 1.263 tổ chức đảng, 4.797 đảng viên.",
        "restructuring": "Kết quả giảm được 138 đầu mối cấp phòng và 1.845 biên chế, giảm 210 lãnh đạo.",
        "training": "Đã triệu tập 590 đồng chí đi học bồi dưỡng nghiệp vụ công tác xây dựng Đảng.",
    }
    tags = pipe.tag_sentences(list(examples.values()))
    for (label, _), t in zip(examples.items(), tags, strict=True):
        assert label in t.labels, (label, t)


def test_each_sentence_is_tagged_in_its_article_title_first(tiny_encoder_path, tiny_summarizer):
    """The pipeline gives the tagger each article whole, title first, and reports the body sentences."""
    import numpy as np

    from dangtopic.data.article import Article
    from dangtopic.inference.pipeline import Pipeline
    from dangtopic.models.tiny import make_tiny_tagger

    tagger = make_tiny_tagger(tiny_encoder_path)  # a contextualiser with random, non-identity weights
    pipe = Pipeline(tagger, tiny_summarizer, topic_summaries=False)
    a = Article(
        id="a", title="Kiểm tra", sentences=["Kết nạp 20 đảng viên mới.", "Hội nghị diễn ra sáng nay."]
    )
    b = Article(id="b", title="Tin", sentences=["Hội nghị diễn ra sáng nay."])
    res_a, res_b = pipe.process([a, b])
    expected = tagger.predict_articles([[a.title, *a.sentences], [b.title, *b.sentences]])
    want = [[p.scores[lab] for lab in tagger.labels] for p in expected[0][1:] + expected[1][1:]]
    got = np.array([[s.scores[lab] for lab in tagger.labels] for s in res_a.sentences + res_b.sentences])
    np.testing.assert_allclose(got, want, atol=1e-5)  # batch composition moves the 6th decimal
    assert [s.index for s in res_a.sentences] == [0, 1] and [s.index for s in res_b.sentences] == [0]
    # the same sentence scores differently in two articles, and alone
    assert not np.allclose(got[1], got[2])
    tagged = pipe.tag_article([a.title, *a.sentences])
    np.testing.assert_allclose(
        [[s.scores[lab] for lab in tagger.labels] for s in tagged],
        [[p.scores[lab] for lab in tagger.labels] for p in expected[0]],
        atol=1e-5,
    )
    assert [s.index for s in tagged] == [0, 1, 2]
    alone = pipe.tag_sentences(a.sentences[1])
    assert alone.scores == tagger.predict(a.sentences[1]).scores != tagged[2].scores
    with pytest.raises(TypeError, match="list"):
        pipe.tag_article("Một bài báo.")


def test_summariser_reads_the_taggers_lower_layers_when_they_are_the_base(tiny_encoder_path):
    """One encoder pass per article: with LoRA above the summariser's depth, the tagger's lower layers are
    the summariser's own, so their states serve it and the summaries equal those of a separate pass."""
    import torch

    from dangtopic.inference.speed import quantize_tagger
    from dangtopic.models.summarizer import ExtractiveSummarizer
    from dangtopic.models.tagger import SentenceTagger, TaggerConfig

    torch.manual_seed(0)
    config = TaggerConfig()
    config.lora.layers_from = 1  # the tiny encoder has 2 layers: only the top one is adapted
    tagger = SentenceTagger.create(str(tiny_encoder_path), config=config).eval()
    summ = ExtractiveSummarizer.create(str(tiny_encoder_path), num_layers=1, **{"encoder.max_length": 128})
    shared = Pipeline(tagger, summ)
    assert shared.shared_layers() == 1
    assert Pipeline(tagger, summ, share_encoder=False).shared_layers() is None

    # the tapped vectors are what the summariser would compute itself
    art = shared.ingest(ARTICLE)
    _, vectors = shared._tag_articles([art], tap=1)
    title_vec, sent_vecs = vectors[0]
    own = summ.embed([art.title, *art.sentences])
    torch.testing.assert_close(torch.vstack([title_vec, sent_vecs]), own, atol=1e-5, rtol=1e-4)

    calls = []
    embed = summ.embed
    summ.embed = lambda texts: calls.append(len(texts)) or embed(texts)
    got = shared([ARTICLE, ARTICLE_2])
    assert calls == []  # the summariser never ran its own encoder
    want = Pipeline(tagger, summ, share_encoder=False)([ARTICLE, ARTICLE_2])
    assert len(calls) == 1  # one batched pass for both articles and all their topic summaries
    for a, b in zip(got, want, strict=True):
        assert a.summary == b.summary and a.topic_summaries == b.topic_summaries
        assert [s.scores for s in a.sentences] == [s.scores for s in b.sentences]

    # sentences cut at another length, or adapted or quantised lower layers, are no longer what the
    # summariser computes: it encodes for itself
    assert (
        Pipeline(tagger, ExtractiveSummarizer.create(str(tiny_encoder_path), num_layers=1)).shared_layers()
        is None
    )
    low = SentenceTagger.create(str(tiny_encoder_path))  # LoRA on every layer
    assert Pipeline(low, summ).shared_layers() is None
    assert Pipeline(quantize_tagger(tagger), summ).shared_layers() is None


def test_bf16_is_the_default_only_where_the_cpu_computes_it(tiny_model_dir, monkeypatch):
    import dangtopic.inference.speed as speed

    monkeypatch.setattr(speed, "native_bf16", lambda: True)
    assert Pipeline.from_pretrained(tiny_model_dir, device="cpu").fast == "bf16"
    assert Pipeline.from_pretrained(tiny_model_dir, device="cpu", fast=False).fast is False
    monkeypatch.setattr(speed, "native_bf16", lambda: False)
    assert Pipeline.from_pretrained(tiny_model_dir, device="cpu").fast is False
