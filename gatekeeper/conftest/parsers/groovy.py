"""A Groovy (Jenkinsfile) reader producing a concrete syntax tree in the shape conftest gives
policies (parser/groovy over albertocavalcante/groovy-parser-go): nodes
``{"kind", "text"?, "line", "column", "children"?}`` with a ``FileNode`` root, token leaves
(``Identifier``, ``StringLiteral``, ``GStringBegin``/``GStringPart``/``GStringEnd``,
``DollarSlashyStringLit``, ``SlashyStringLit``, ``IntegerLiteral`` …, their ``text`` as written
with quotes) and expression nodes (``CallExpr``, ``IdentExpr``, ``PropertyExpr``,
``ClosureExpr``, ``ArgumentList``, ``GStringExpr`` …). A node's line and column are those of
its first child, as in conftest.

There is no Python Groovy parser. This one reads the pipeline-script subset Jenkinsfiles are
written in: statements, method calls with and without parentheses (``sh 'make'``,
``stage('Build') { … }``), closures, properties, lists and maps, strings of every kind with
interpolation, and binary operators (kept as a flat ``BinaryExpr``). Class and method
declarations are read as generic statements. The tree is bounded like conftest's (depth 256,
100,000 nodes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.conftest.parsers import Source
from gatekeeper.errors import InputError

MAX_DEPTH = 256
MAX_NODES = 100_000

_PUNCT = {
    "(": "LParen", ")": "RParen", "{": "LBrace", "}": "RBrace", "[": "LBracket",
    "]": "RBracket", ",": "Comma", ".": "Dot", ":": "Colon", ";": "Semicolon",
    "?.": "SafeDot", "*.": "SpreadDot", "->": "Arrow", "=": "Assign",
}  # fmt: skip
_OPERATOR_RE = re.compile(
    r"\?\.|\*\.|->|===|!==|==|!=|<=>|<=|>=|&&|\|\||<<|>>>|>>|\+\+|--|\+=|-=|\*=|/=|=~|==~"
    r"|\?:|\.\.<|\.\.|[-+*/%<>!&|^~?=]"
)
_IDENT_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER_RE = re.compile(r"\d[\d_]*(\.\d[\d_]*)?([eE][+-]?\d+)?[lLgGdDfFiI]?")
_KEYWORDS = frozenset(
    {"def", "if", "else", "for", "while", "return", "try", "catch", "finally", "new", "import",
     "class", "in", "throw", "switch", "case"}
)  # fmt: skip


@dataclass
class Token:
    kind: str
    text: str
    line: int
    column: int
    newline_before: bool = False


@dataclass
class Node:
    kind: str
    children: list[Any] = field(default_factory=list)  # Node | Token


class _Lexer:
    def __init__(self, text: str, source: Source) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.tokens: list[Token] = []
        self.newline = True

    def fail(self, message: str) -> InputError:
        column = self.pos - self.line_start + 1
        return InputError(
            f"parse groovy: {message}", path=self.source.shown, where=f"{self.line}:{column}"
        )

    def emit(self, kind: str, start: int, line: int, column: int) -> None:
        self.tokens.append(Token(kind, self.text[start : self.pos], line, column, self.newline))
        self.newline = False

    def advance_to(self, end: int) -> None:
        chunk = self.text[self.pos : end]
        breaks = chunk.count("\n")
        if breaks:
            self.line += breaks
            self.line_start = self.pos + chunk.rfind("\n") + 1
        self.pos = end

    def regex_allowed(self) -> bool:
        """A ``/`` starts a slashy string where an operand is expected."""
        if not self.tokens or self.newline:
            return True
        last = self.tokens[-1]
        return last.kind in ("LParen", "Comma", "Assign", "Operator", "LBracket", "Colon") or (
            last.kind == "Identifier" and self.text[self.pos - 1 : self.pos].isspace()
        )

    def run(self) -> list[Token]:
        text = self.text
        if text.startswith("#!"):
            end = text.find("\n")
            self.advance_to(len(text) if end < 0 else end)
        while self.pos < len(text):
            ch = text[self.pos]
            line, column, start = self.line, self.pos - self.line_start + 1, self.pos
            if ch == "\n":
                self.advance_to(self.pos + 1)
                self.newline = True
            elif ch in " \t\r\f":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.advance_to(end + 2)
            elif ch == "\\" and text.startswith("\\\n", self.pos):
                self.advance_to(self.pos + 2)
            elif text.startswith("$/", self.pos):
                end = text.find("/$", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated dollar-slashy string")
                self.advance_to(end + 2)
                self.emit("DollarSlashyStringLit", start, line, column)
            elif ch == "'":
                quote = "'''" if text.startswith("'''", self.pos) else "'"
                self.advance_to(self._string_end(self.pos + len(quote), quote))
                self.emit("StringLiteral", start, line, column)
            elif ch == '"':
                self._gstring(line, column)
            elif ch == "/" and self.regex_allowed() and not text.startswith("/=", self.pos):
                self.advance_to(self._string_end(self.pos + 1, "/"))
                self.emit("SlashyStringLit", start, line, column)
            elif ch.isdigit() and (number := _NUMBER_RE.match(text, self.pos)):
                match = number
                self.pos = match.end()
                kind = "FloatLiteral" if match.group(1) or match.group(2) else "IntegerLiteral"
                self.emit(kind, start, line, column)
            elif ident := _IDENT_RE.match(text, self.pos):
                match = ident
                self.pos = match.end()
                word = match.group(0)
                self.emit("Keyword" if word in _KEYWORDS else "Identifier", start, line, column)
            elif ch in "(){}[],;:" or text.startswith(("?.", "*.", "->"), self.pos):
                size = 2 if text.startswith(("?.", "*.", "->"), self.pos) else 1
                self.pos += size
                self.emit(_PUNCT[text[start : self.pos]], start, line, column)
            elif ch == ".":
                self.pos += 2 if text.startswith("..", self.pos) else 1
                self.emit("Dot" if self.pos - start == 1 else "Operator", start, line, column)
            else:
                operator = _OPERATOR_RE.match(text, self.pos)
                if not operator:
                    raise self.fail(f"unexpected character {ch!r}")
                self.pos = operator.end()
                kind = "Assign" if operator.group(0) == "=" else "Operator"
                self.emit(kind, start, line, column)
        self.tokens.append(Token("EOF", "", self.line, self.pos - self.line_start + 1, True))
        return self.tokens

    def _string_end(self, index: int, quote: str) -> int:
        text = self.text
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text.startswith(quote, index):
                return index + len(quote)
            if text[index] == "\n" and len(quote) == 1 and quote != "/":
                break
            index += 1
        raise self.fail("unterminated string")

    def _gstring(self, line: int, column: int) -> None:
        """A double-quoted string: one ``StringLiteral`` without ``${}``, else
        ``GStringBegin``, the embedded expressions' tokens, ``GStringPart``…, ``GStringEnd``."""
        text = self.text
        quote = '"""' if text.startswith('"""', self.pos) else '"'
        start = self.pos
        index = self.pos + len(quote)
        kind = "StringLiteral"
        while True:
            if index >= len(text) or (text[index] == "\n" and quote == '"'):
                raise self.fail("unterminated string")
            if text[index] == "\\":
                index += 2
                continue
            if text.startswith(quote, index):
                self.advance_to(index + len(quote))
                self.emit("GStringEnd" if kind != "StringLiteral" else "StringLiteral",
                          start, line, column)  # fmt: skip
                return
            if text.startswith("${", index):
                self.advance_to(index)
                self.emit("GStringBegin" if kind == "StringLiteral" else "GStringPart",
                          start, line, column)  # fmt: skip
                kind = "GString"
                self.pos = index
                self._embedded()
                start, line, column = self.pos, self.line, self.pos - self.line_start + 1
                index = self.pos
                continue
            index += 1

    def _embedded(self) -> None:
        """``${ expression }`` inside a GString: its tokens, braces included."""
        line, column = self.line, self.pos - self.line_start + 1
        self.pos += 2
        self.tokens.append(Token("DollarLBrace", "${", line, column))
        depth = 1
        sub_start = self.pos
        index = self.pos
        while index < len(self.text) and depth:
            ch = self.text[index]
            if ch in "'\"":
                index = self._skip_quoted(index)
                continue
            depth += ch == "{"
            depth -= ch == "}"
            index += 1
        if depth:
            raise self.fail("unterminated ${ in string")
        inner = _Lexer(self.text[sub_start : index - 1], self.source)
        inner.line = self.line
        for token in inner.run()[:-1]:
            self.tokens.append(token)
        self.advance_to(index - 1)
        self.tokens.append(Token("RBrace", "}", self.line, self.pos - self.line_start + 1))
        self.pos += 1

    def _skip_quoted(self, index: int) -> int:
        quote = self.text[index]
        index += 1
        while index < len(self.text) and self.text[index] != quote:
            index += 2 if self.text[index] == "\\" else 1
        return index + 1


_STRING_KINDS = frozenset(
    {"StringLiteral", "GStringBegin", "DollarSlashyStringLit", "SlashyStringLit"}
)
_ARG_START = frozenset(
    {"Identifier", "StringLiteral", "GStringBegin", "DollarSlashyStringLit", "SlashyStringLit",
     "IntegerLiteral", "FloatLiteral", "LBracket"}
)  # fmt: skip


class _Parser:
    def __init__(self, tokens: list[Token], source: Source) -> None:
        self.tokens = tokens
        self.pos = 0
        self.source = source

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def fail(self, message: str) -> InputError:
        token = self.peek()
        return InputError(
            f"parse groovy: {message}",
            path=self.source.shown,
            where=f"{token.line}:{token.column}",
        )

    def file(self) -> Node:
        root = Node("FileNode")
        root.children = self.statements("EOF", 0)
        return root

    def statements(self, end: str, depth: int) -> list[Any]:
        found: list[Any] = []
        while self.peek().kind != end:
            if self.peek().kind == "EOF":
                raise self.fail(f"missing {'}' if end == 'RBrace' else end}")
            if self.peek().kind == "Semicolon":
                self.take()
                continue
            found.append(self.expression(depth + 1))
        return found

    def expression(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"syntax tree exceeds maximum depth of {MAX_DEPTH}")
        left = self.postfix(depth)
        while (
            self.peek().kind in ("Operator", "Assign", "Arrow") and not self.peek().newline_before
        ):
            operator = self.take()
            if self.peek().kind in ("RParen", "RBracket", "RBrace", "Comma", "EOF"):
                left = Node("PostfixExpr", [left, operator])
                continue
            right = self.postfix(depth)
            left = Node("BinaryExpr", [left, operator, right])
        return left

    def _continues_binary(self) -> bool:
        token = self.peek()
        return token.kind in ("Operator", "Assign", "Arrow") and not token.newline_before

    def postfix(self, depth: int) -> Any:
        token = self.peek()
        if token.kind == "Keyword" and token.text in ("def", "return", "new", "throw"):
            keyword = self.take()
            return Node("KeywordExpr", [keyword, self.expression(depth + 1)])
        node = self.primary(depth)
        while True:
            token = self.peek()
            if token.kind in ("Dot", "SafeDot", "SpreadDot"):
                dot = self.take()
                name = self.take()
                node = Node("PropertyExpr", [node, dot, name])
            elif token.kind == "LParen" and not token.newline_before:
                node = Node("CallExpr", [node, self.arguments(depth)])
                if self.peek().kind == "LBrace" and not self.peek().newline_before:
                    node.children.append(self.closure(depth))
            elif token.kind == "LBrace" and not token.newline_before and _callable(node):
                node = Node("CallExpr", [node, self.closure(depth)])
            elif token.kind == "LBracket" and not token.newline_before:
                self.take()
                index = self.expression(depth + 1)
                close = self.expect("RBracket")
                node = Node("IndexExpr", [node, token, index, close])
            elif token.kind in _ARG_START and not token.newline_before and _callable(node):
                node = Node("CallExpr", [node, self.command_arguments(depth)])
            else:
                return node

    def command_arguments(self, depth: int) -> Node:
        """``sh 'make'``, ``agent any``, ``echo "a", "b"``: arguments without parentheses."""
        arguments = Node("ArgumentList", [self.argument(depth)])
        while self.peek().kind == "Comma":
            arguments.children.append(self.take())
            arguments.children.append(self.argument(depth))
        if self.peek().kind == "LBrace" and not self.peek().newline_before:
            arguments.children.append(self.closure(depth))
        return arguments

    def argument(self, depth: int) -> Any:
        if self.peek().kind in ("Identifier", "StringLiteral") and self.peek(1).kind == "Colon":
            key = self.take()
            colon = self.take()
            return Node("NamedArgument", [key, colon, self.expression(depth + 1)])
        return self.expression(depth + 1)

    def arguments(self, depth: int) -> Node:
        arguments = Node("ArgumentList", [self.take()])
        while self.peek().kind != "RParen":
            if self.peek().kind == "EOF":
                raise self.fail("missing ')'")
            if self.peek().kind == "Comma":
                arguments.children.append(self.take())
                continue
            arguments.children.append(self.argument(depth))
        arguments.children.append(self.take())
        return arguments

    def closure(self, depth: int) -> Node:
        closure = Node("ClosureExpr", [self.take()])
        closure.children.extend(self.statements("RBrace", depth))
        closure.children.append(self.take())
        return closure

    def expect(self, kind: str) -> Token:
        if self.peek().kind != kind:
            raise self.fail(f"expected {kind}, found {self.peek().text!r}")
        return self.take()

    def primary(self, depth: int) -> Any:
        token = self.peek()
        if token.kind == "Identifier":
            return Node("IdentExpr", [self.take()])
        if token.kind in _STRING_KINDS and token.kind != "GStringBegin":
            return Node("LiteralExpr", [self.take()])
        if token.kind == "GStringBegin":
            parts: list[Any] = [self.take()]
            while self.peek().kind != "GStringEnd":
                if self.peek().kind == "EOF":
                    raise self.fail("unterminated string")
                if self.peek().kind == "DollarLBrace":
                    parts.append(self.take())
                    if self.peek().kind != "RBrace":
                        parts.append(self.expression(depth + 1))
                    parts.append(self.expect("RBrace"))
                else:
                    parts.append(self.take())  # GStringPart
            parts.append(self.take())
            return Node("GStringExpr", parts)
        if token.kind in ("IntegerLiteral", "FloatLiteral", "Keyword"):
            return Node("LiteralExpr", [self.take()])
        if token.kind == "LParen":
            group = Node("ParenExpr", [self.take(), self.expression(depth + 1)])
            group.children.append(self.expect("RParen"))
            return group
        if token.kind == "LBracket":
            items = Node("ListExpr", [self.take()])
            while self.peek().kind != "RBracket":
                if self.peek().kind == "EOF":
                    raise self.fail("missing ']'")
                if self.peek().kind in ("Comma", "Colon"):
                    items.children.append(self.take())
                    continue
                items.children.append(self.argument(depth))
            items.children.append(self.take())
            return items
        if token.kind == "LBrace":
            return self.closure(depth)
        if token.kind == "Operator":  # unary
            operator = self.take()
            return Node("UnaryExpr", [operator, self.postfix(depth)])
        raise self.fail(f"unexpected {token.text or token.kind!r}")


def _callable(node: Any) -> bool:
    return isinstance(node, Node) and node.kind in ("IdentExpr", "PropertyExpr")


def _convert(node: Any, budget: list[int]) -> dict[str, Any]:
    budget[0] -= 1
    if budget[0] < 0:
        raise InputError(f"parse groovy: syntax tree exceeds maximum node count of {MAX_NODES}")
    if isinstance(node, Token):
        return {"kind": node.kind, "text": node.text, "line": node.line, "column": node.column}
    children = [_convert(c, budget) for c in node.children if not _skipped(c)]
    converted: dict[str, Any] = {"kind": node.kind}
    if children:
        converted["line"] = children[0]["line"]
        converted["column"] = children[0]["column"]
        converted["children"] = children
    else:
        converted["line"] = 1
        converted["column"] = 1
    return converted


def _skipped(child: Any) -> bool:
    return isinstance(child, Token) and (child.kind == "EOF" or child.text == "")


class GroovyParser:
    def parse(self, text: str, source: Source) -> Any:
        tokens = _Lexer(text, source).run()
        if len(tokens) > MAX_NODES:
            raise InputError(
                f"parse groovy: syntax tree exceeds maximum node count of {MAX_NODES}",
                path=source.shown,
            )
        root = _Parser(tokens, source).file()
        try:
            return _convert(root, [MAX_NODES])
        except InputError as exc:
            raise InputError(exc.message, path=source.shown) from None
