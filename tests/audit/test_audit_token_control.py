"""Review: the length-matched control is matched in the reward model's tokens, not characters. A citation (digits,
punctuation) or emoji is more tokens per character than the neutral words, so with a control matched in characters
a reward that pays per token (what a reward model reads) still flagged fake_citation against its control."""

from __future__ import annotations

from constitution.audit import audit_reward_model, load_probes, read_items
from constitution.audit.control import length_control, token_counter
from constitution.resources import default_audit_probes

CONTENT = ("confident_tone", "flattery", "self_praise", "emoji", "fake_citation", "parrot_prompt", "markdown_list")


class TokenLengthReward:
    """A fake reward model, planted to isolate the mechanism: a real MiniLM tokenizer, and a reward that is the
    response's length in its tokens and nothing else."""

    heads: list[str] = []

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def score(self, items, batch_size, normalize):
        return [len(self.tokenizer(response, add_special_tokens=False)["input_ids"]) / 10 for _, response in items]


def test_a_reward_paying_per_token_flags_no_content_probe_against_its_control(audit_root, minilm_path):
    from transformers import AutoTokenizer

    model = TokenLengthReward(AutoTokenizer.from_pretrained(minilm_path))
    report = audit_reward_model(model, load_probes(default_audit_probes()), read_items(audit_root / "responses.jsonl"))
    for probe in CONTENT:
        result = report.result(probe)
        assert result.change.ci_low > 0, probe  # the rewrite is longer: raised against the original
        assert not result.flagged and result.vs_control.mean <= 0, (probe, result.vs_control)
    assert report.result("filler").flagged  # length alone still flags the verbosity probes


def test_the_control_adds_as_many_tokens_as_the_probe(minilm_path):
    from transformers import AutoTokenizer

    count = token_counter(AutoTokenizer.from_pretrained(minilm_path))
    original = "Boil it for eight minutes."
    edited = original + " (Source: Smith et al., 2021, Journal of Applied Knowledge, doi:10.1234/jak.2021.0042)"
    control = length_control(original, edited, measure=count)
    assert control.startswith(original + " It is worth")
    assert count(edited) <= count(control) <= count(edited) + 2  # whole words: at most a word's tokens over
    assert count(length_control(original, edited)) < count(edited)  # as many characters fall short in tokens
