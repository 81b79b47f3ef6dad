"""Data in and out: chat messages, preference pairs and AI-feedback records; lazy readers for JSONL/CSV/Parquet/
`datasets`; single responses to score or classify; the AI-feedback dataset writer."""

from constitution.data.dialogue import as_messages, format_dialogue, parse_dialogue
from constitution.data.pairs import PairReader, load_pairs, split_pairs
from constitution.data.records import FeedbackRecord, LoadReport, Message, Pair
from constitution.data.responses import ResponseRow, response_row
from constitution.data.rows import iter_rows

__all__ = [
    "FeedbackRecord",
    "LoadReport",
    "Message",
    "Pair",
    "PairReader",
    "ResponseRow",
    "as_messages",
    "format_dialogue",
    "iter_rows",
    "load_pairs",
    "parse_dialogue",
    "response_row",
    "split_pairs",
]
