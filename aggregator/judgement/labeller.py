"""What an agency's reply is worth: the five labels of the follow-up policy.

``Labeller(config).classify(text, attachments)`` reads the reply with the rules
(:mod:`aggregator.judgement.rules`), turns that reading and a few more patterns into
features (:mod:`aggregator.judgement.features`), asks a linear model over those features
and the reply's word and character n-grams, and then applies the policy's precedence:

1. a request to the reporter wins (a courtesy closing is not a request);
2. *substantive* needs the model's confidence (``min_substantive``) **and** something
   concrete — the rules' action, or a particular (place, date, unit, quantity, measurement,
   amount, document number), or an attachment backing a short physical action — so a
   boilerplate reply is almost never substantive; with an attachment or a link it is
   *substantive_with_evidence*;
3. *forwarded* when passing it on is all it says;
4. *acknowledgement* otherwise.

The phrases configured under ``[followup]`` steer it: when they change what the rules
read, the rules' label is the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aggregator.judgement import cache, rules
from aggregator.judgement.features import Reading, read
from aggregator.judgement.model import TextModel, corpus, top
from aggregator.judgement.normalize import normalize, strip_html
from aggregator.judgement.policy import FollowupPolicy, followup_policy, phrase_pattern
from schemas.config import FollowupConfig
from schemas.events import FollowupLabel

_MODEL_LABELS = {"substantive_with_evidence": "substantive"}
_STEERING_FIELDS = (
    "acknowledgement_phrases",
    "forwarded_phrases",
    "info_request_phrases",
    "action_words",
    "weak_action_words",
    "non_action_words",
    "unit_words",
)


@dataclass(frozen=True)
class Example:
    text: str
    attachments: int
    label: str


def shipped_examples() -> list[Example]:
    return [
        Example(r["text"], int(r.get("attachments") or 0), r["label"])
        for r in corpus("followup_train.jsonl")
    ]


@dataclass
class Labeller:
    config: FollowupConfig = field(default_factory=FollowupConfig)
    policy: FollowupPolicy | None = None
    examples: Sequence[Example] | None = None

    def __post_init__(self) -> None:
        if self.policy is None:
            self.policy = followup_policy(self.config.policy)
        pol = self.policy
        self._courtesy = [phrase_pattern(p) for p in pol.phrases.get("courtesy", ())]
        self._not_fwd = [phrase_pattern(p) for p in pol.phrases.get("not_forwarding", ())]
        self._vague = {normalize(p).strip(" .") for p in pol.phrases.get("vague_completion", ())}
        self._steered = any(getattr(self.config, f) for f in _STEERING_FIELDS)
        self._model: TextModel | None = None

    # The model depends on the examples and the policy (not on configured phrases), so every
    # labeller of a process with them shares one, and a restart loads it from the cache of
    # fitted models (``cache.set_directory``) instead of fitting again.
    @property
    def model(self) -> TextModel:
        if self._model is None:
            examples = self.examples or shipped_examples()
            key = cache.key(
                "labeller",
                [repr(self.policy)]
                + [json.dumps([e.text, e.attachments, e.label]) for e in examples],
            )
            self._model = cache.fitted("labeller", key, lambda: self._fit(examples))
        return self._model

    def _fit(self, examples: Sequence[Example]) -> TextModel:
        readings = [self._read(e.text, e.attachments, FollowupConfig()) for e in examples]
        return TextModel.fit(
            [r.text for r in readings],
            [_MODEL_LABELS.get(e.label, e.label) for e in examples],
            [r.vector for r in readings],
            c=30.0,
            dense_scale=2.0,
        )

    def _read(self, text: str, attachments: int, config: FollowupConfig | None) -> Reading:
        plain = self._strip_courtesy(strip_html(text))
        label, reasons = rules.classify(plain, attachments, config=config)
        return read(text, attachments, label.value, reasons)

    def _strip_courtesy(self, text: str) -> str:
        out = text
        for pat in self._courtesy:
            low = normalize(out)
            if pat.search(low):
                # Drop the sentence holding the courtesy closing, keep the rest as written.
                sents = rules.sentences(out)
                out = " ".join(s for s in sents if not pat.search(normalize(s)))
        return out

    def classify(self, text: str, attachments: int = 0) -> tuple[FollowupLabel, list[str]]:
        return self.classify_many([(text, attachments)])[0]

    def classify_many(
        self, items: Sequence[tuple[str, int]]
    ) -> list[tuple[FollowupLabel, list[str]]]:
        readings = [self._read(t, a, self.config) for t, a in items]
        probs = self.model.proba([r.text for r in readings], [r.vector for r in readings])
        out = []
        for (text, attachments), r, p in zip(items, readings, probs, strict=True):
            out.append(self._decide(text, attachments, r, p))
        return out

    def _decide(
        self, text: str, attachments: int, r: Reading, p: dict[str, float]
    ) -> tuple[FollowupLabel, list[str]]:
        assert self.policy is not None
        reasons = list(r.reasons)
        label, conf = top(p)
        reasons.append(f"model: {label} {conf:.2f}")
        if self._steered and self._rules_changed(text, attachments, r.rule_label):
            reasons.append("configured phrases decided")
            return FollowupLabel(r.rule_label), reasons
        norm = r.text.strip(" .!")
        acted = r.rule_label in ("substantive", "substantive_with_evidence")
        evidence = attachments > 0 or any(x.startswith("link:") for x in r.reasons)
        words = len(norm.split())
        # An action needs a particular; a bare "sudah diperbaiki" is a vague completion claim
        # unless an attachment is its evidence.
        concrete = (
            r.particulars > 0
            or (acted and words > 3)
            or (
                evidence
                and words <= 8
                and any(x.startswith(("action:", "vague:")) for x in r.reasons)
            )
        )
        if norm in self._vague:
            concrete = False
            reasons.append("vague completion claim")
        asked = r.rule_label == "info_request" or any(
            x.startswith("info_request:") for x in r.reasons
        )
        if asked or (label == "info_request" and conf >= 0.8):
            # the request wins, also after a fruitless site visit
            return FollowupLabel.INFO_REQUEST, reasons
        if (
            (p.get("substantive", 0) >= self.policy.min_substantive or acted)
            and concrete
            and (p.get("acknowledgement", 0) < 0.7 or acted)
        ):
            return (
                FollowupLabel.SUBSTANTIVE_WITH_EVIDENCE if evidence else FollowupLabel.SUBSTANTIVE
            ), reasons
        own = any(pat.search(r.text) for pat in self._not_fwd)
        forwarded = label == "forwarded" or r.rule_label == "forwarded"
        if forwarded and not own and p.get("forwarded", 0) >= 0.3:
            return FollowupLabel.FORWARDED, reasons
        if own:
            reasons.append("passed to own leadership or future coordination: not forwarding")
        return FollowupLabel.ACKNOWLEDGEMENT, reasons

    def _rules_changed(self, text: str, attachments: int, configured: str) -> bool:
        plain, _ = rules.classify(self._strip_courtesy(strip_html(text)), attachments, config=None)
        return plain.value != configured


def as_classifier(labeller: Labeller) -> Callable[[str, int], tuple[str, list[str]]]:
    """The plain-string shape the LAPOR! side stores."""

    def run(text: str, attachments: int = 0) -> tuple[str, list[str]]:
        label, reasons = labeller.classify(text, attachments)
        return label.value, reasons

    return run
