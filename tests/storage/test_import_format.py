"""Record splitting keeps each record's starting line, for arrays and JSON Lines."""

from __future__ import annotations

from storage.import_format import RawRecord, SyntaxProblem, read_records


def _lines(text: str) -> list[tuple[str, int]]:
    return [
        ("record" if isinstance(r, RawRecord) else "problem", r.line) for r in read_records(text)
    ]


def test_json_array_record_lines() -> None:
    text = '\n\n[\n  {"a": 1,\n   "b": 2},\n  {"a": 3},\n\n  {\n"a": [1,\n2]}\n]\n'
    assert _lines(text) == [("record", 4), ("record", 6), ("record", 8)]


def test_json_array_on_one_line() -> None:
    assert _lines('[{"a":1},{"a":2}]') == [("record", 1), ("record", 1)]


def test_empty_array_and_trailing_garbage() -> None:
    assert _lines("[ ]") == []
    assert _lines('[{"a":1}]\n\nx') == [("record", 1), ("problem", 3)]


def test_json_array_syntax_error_stops_with_its_line() -> None:
    text = '[\n{"a": 1},\n{"a": 2,,},\n{"a": 3}\n]'
    result = list(read_records(text))
    assert isinstance(result[0], RawRecord) and result[0].line == 2
    assert isinstance(result[1], SyntaxProblem) and result[1].line == 3
    assert len(result) == 2


def test_json_array_missing_comma_and_unterminated() -> None:
    assert _lines('[\n{"a": 1}\n{"a": 2}\n]') == [("record", 2), ("problem", 3)]
    assert _lines('[\n{"a": 1},\n')[-1] == ("problem", 3)


def test_json_lines_skip_blank_and_continue_after_error() -> None:
    text = '{"a": 1}\n\n{"a": \n   \n{"a": 3}\n'
    assert _lines(text) == [("record", 1), ("problem", 3), ("record", 5)]


def test_bom_is_ignored() -> None:
    assert _lines('\ufeff[{"a": 1}]') == [("record", 1)]
