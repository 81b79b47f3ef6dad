"""The client's request body: a list mixing plain texts and (prompt, response) pairs is refused, naming the item
(it used to unpack a 2-character text as prompt and response)."""

import pytest

from constitution.client import score_body


def test_plain_texts_and_pairs_make_their_bodies():
    assert score_body(["a", "bc"])["texts"] == ["a", "bc"]
    body = score_body([("hi", "yo"), ([{"role": "user", "content": "hi"}], "yo")])
    assert body["items"][0] == {"prompt": "hi", "response": "yo"}
    assert body["items"][1]["prompt"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("items", [[("p", "r"), "ok"], [("p", "r"), ("p", "r", "x")], [("p", "r"), 3]])
def test_a_mixed_list_is_refused_naming_the_item(items):
    with pytest.raises(ValueError, match="item 1 is"):
        score_body(items)


def test_numpy_rows_of_prompt_and_response_are_pairs():
    import numpy as np

    rows = np.array([["hi", "yo"], ["a", "b"]], dtype=object)
    assert score_body(list(rows))["items"] == [{"prompt": "hi", "response": "yo"}, {"prompt": "a", "response": "b"}]
