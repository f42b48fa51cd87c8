"""One slang table (aggregator/judgement/slang.py) for the text normalizer and the follow-up
rules: no spelling is folded one way by one and another way by the other."""

from __future__ import annotations

from aggregator.followup import lexicon
from aggregator.judgement import cache, normalize, slang


def test_the_normalizer_reads_the_shared_table() -> None:
    assert normalize.SLANG is slang.SLANG
    assert normalize.normalize("trmksh, sdh kmi tambel") == "terima kasih sudah kami tambal"


def test_the_rules_fold_their_words_with_the_shared_spellings() -> None:
    assert lexicon.SLANG and lexicon.SLANG.items() <= slang.SLANG.items()
    assert lexicon.SLANG["sdh"] == slang.SLANG["sdh"] == "sudah"
    # The rules' words are a choice of their own: the router's regional words stay out.
    assert "matur" in slang.SLANG and "matur" not in lexicon.SLANG


def test_a_changed_table_fits_the_models_anew() -> None:
    assert "slang.py" in cache._CODE
