"""lex-dpr parse-refs"""

from __future__ import annotations

from typing import Annotated

import typer

EXAMPLES = ['lex-dpr parse-refs "[1] 민법 제750조, 제751조 / [2] 같은 법 제763조"']


def command(text: Annotated[str, typer.Argument(help="A 참조조문 string.")]) -> None:
    """Parse a 참조조문 string and print the references as JSON."""
    import orjson

    from lex_dpr.mining.refs import parse_references

    refs = [r.to_dict() for r in parse_references(text)]
    typer.echo(orjson.dumps(refs, option=orjson.OPT_INDENT_2).decode())
