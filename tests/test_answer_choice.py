"""Which sentences an answer keeps (assistant/answer.py _choose, _supporting), on tiny strings."""

from __future__ import annotations

from types import SimpleNamespace

from assistant.answer import Candidate, _choose, _supporting

TEXT = "Marco Rubio a parlé à Ottawa. Le G7 a réuni ses ministres. La pluie tombait. Il a menacé Moscou."


def _cand(sentence: str, score: float, **kw) -> Candidate:
    start = TEXT.index(sentence)
    doc = SimpleNamespace(doc_id="d", text=TEXT)
    return Candidate(passage=None, doc=doc, start=start, end=start + len(sentence), score=score, coverage=0.5, **kw)


def test_a_sentence_that_points_back_comes_last_or_with_its_lead():
    lone = _cand("Il a menacé Moscou.", 9.0, standalone=False)
    others = [_cand("La pluie tombait.", 1.0), _cand("Le G7 a réuni ses ministres.", 2.0)]
    assert [c.score for c in _choose([lone, *others], 2)] == [2.0, 1.0]
    lead = (0, len("Marco Rubio a parlé à Ottawa."))
    paired = _cand("Il a menacé Moscou.", 9.0, standalone=False, lead=lead)
    chosen = _choose([paired, *others], 2)
    assert [(c.start, c.end) for c in chosen] == [lead, (paired.start, paired.end), (others[1].start, others[1].end)]
    chosen = _choose([*others, paired.__class__(**{**paired.__dict__, "score": 1.5})], 2)
    assert [c.score for c in chosen] == [2.0, 1.5, 1.5]  # a pair in the second place: lead then sentence


def test_quotes_never_overlap():
    a = _cand("Le G7 a réuni ses ministres.", 2.0)
    b = Candidate(passage=None, doc=a.doc, start=0, end=a.end, score=3.0, coverage=0.5)
    assert _choose([a, b], 2) == [b]


def test_a_second_sentence_only_when_it_adds_support():
    first = _cand("Le G7 a réuni ses ministres.", 2.0)
    from index.french import analyze

    q = "Où le G7 a-t-il réuni ses ministres, à Ottawa ?"
    q_terms = analyze(q)
    weights = {t: 1.0 for t in q_terms}
    kept = _supporting([first, _cand("La pluie tombait.", 1.0)], q, q_terms, weights)
    assert kept == [first]
    second = _cand("Marco Rubio a parlé à Ottawa.", 1.0)
    assert _supporting([first, second], q, q_terms, weights) == [first, second]


def test_a_second_sentence_the_scorer_rates_as_high_as_the_first_stays():
    from index.french import analyze

    q = "Où le G7 a-t-il réuni ses ministres ?"
    q_terms = analyze(q)
    weights = {t: 1.0 for t in q_terms}
    first = _cand("Le G7 a réuni ses ministres.", 2.0)
    assert _supporting([first, _cand("La pluie tombait.", 1.95)], q, q_terms, weights)[1:] != []
    assert _supporting([first, _cand("La pluie tombait.", 1.0)], q, q_terms, weights) == [first]


def test_the_asked_for_kind_counts_only_when_the_first_lacks_it():
    from index.french import analyze

    q = "Qui a parlé ?"  # a person: the first sentence names one already
    q_terms = analyze(q)
    weights = {t: 1.0 for t in q_terms}
    first = _cand("Marco Rubio a parlé à Ottawa.", 2.0)
    assert _supporting([first, _cand("Le G7 a réuni ses ministres.", 1.0)], q, q_terms, weights) == [first]
