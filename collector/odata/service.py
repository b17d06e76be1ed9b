"""Serving a form's tables over OData: rows, counts and next links, streamed.

As Central: without ``$top`` a request gets every matching row (pyodk's ``get_table`` reads one
response and does not follow next links); with ``$top`` a page stops there and, when rows remain,
ends with an ``@odata.nextLink`` carrying a ``$skiptoken``. Rows come newest submission first.
Records are read in keyset batches (``dataset.stored_rows``), filtered in SQL where the filter is on
submission metadata and on rendered rows otherwise, and the JSON is written as rows are made:
memory holds one batch, never the table. A ``$orderby`` reads in its order by offset instead,
and its next link carries ``$skip`` (Central refuses ``$orderby`` with ``$skiptoken``).
The root table lists submissions not decrypted too, as rows of metadata with a status.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from collector import audit
from collector.audit import Actor
from collector.dataset import (
    BATCH,
    Entry,
    Renderer,
    Viewer,
    decoded,
    entries,
    model_of,
    stored,
    stored_rows,
)
from collector.errors import NotFound
from collector.models import Form, FormVersion, Submission
from collector.odata.edm import Schema, metadata_xml, schema_for
from collector.odata.edm import service_document as _service_document
from collector.odata.filter import Expr, Lookup, matches, parse, split
from collector.odata.query import (
    ROOT_ID,
    Options,
    Resource,
    Token,
    order_by,
    parse_options,
    parse_resource,
    parse_select,
    resolver,
)
from collector.odata.rows import Row, Shaper
from collector.odata.values import convert
from collector.odata.versions import CURRENT, named
from collector.publishing import current_version
from forms.policy import PIIKind

#: Characters of JSON gathered before a chunk is handed to the server.
CHUNK = 64 * 1024
# Records read per query when a page needs few: enough to amortise the query, small enough that
# a one-row page does not decode a full batch.
MIN_BATCH = 50


def open_schema(session: Session, form: Form, draft: FormVersion | None = None) -> Schema:
    """Return the data model of a form's current published version (404 for a draft only), or
    of its ``draft``."""
    if draft is not None:
        return schema_for(model_of(session, form, draft.id))
    if current_version(session, form.id) is None:
        raise NotFound(f"form {form.xml_form_id!r} has no published version")
    return schema_for(model_of(session, form))


@dataclass
class _Scan:
    """One request's walk over a table: candidates in order, filtered, with resume tokens."""

    session: Session
    form: Form
    resource: Resource
    shaper: Shaper
    sql: list[ColumnElement[bool]]
    rest: Expr | None
    #: The ORDER BY of a ``$orderby``; empty for submission order (keyset paging).
    order: list[Any] = field(default_factory=list)
    #: The draft version whose test submissions are read (None: the form's data).
    draft: int | None = None

    @property
    def is_root(self) -> bool:
        return self.resource.table.kind == "root"

    def candidates(
        self, after: Token | None, batch: int, offset: int = 0
    ) -> Iterator[tuple[Row, Token]]:
        """Yield matching rows in order, each with the token that resumes after it (with an
        ``order``: from the ``offset``-th submission on, ``after`` unused)."""
        # Newest first: a root row resumes below its submission, a repeat row within it.
        start = None if after is None else after.submission + (0 if self.is_root else 1)
        scan = stored_rows(
            self.session,
            self.form,
            batch=batch,
            after_id=start,
            where=self.sql,
            order=self.order,
            offset=offset,
            newest_first=True,
            pending=self.is_root,
            draft=self.draft,
        )
        for found in scan:
            # Each record is decoded only when its rows are made (see ``Run.entries``).
            self.shaper.renderer.prefetch_text([row.record_data for row in found])
            self.shaper.versions.load(found)
            for row in found:
                yield from self._rows(decoded(row), after)

    def _rows(self, entry: Entry, after: Token | None) -> Iterator[tuple[Row, Token]]:
        record = self.shaper.record(entry)
        system = self.shaper.system(entry)
        number = int(entry.submission.id)
        if self.is_root:
            row, values = self.shaper.root(record, system)
            ids = {"__id": record.instance_id, ROOT_ID: record.instance_id}
            if self._keep(system, values, ids):
                yield row, Token(number)
            return
        table = self.resource.table
        for item in self.shaper.table_rows(record, table):
            if after is not None and number == after.submission:
                if after.position is not None and item.position <= after.position:
                    continue
            if not all(
                (found := record.level(item.key, path)) is not None
                and record.row_id(found) == wanted
                for path, wanted in self.resource.within
            ):
                continue
            ids = {
                "__id": item.row["__id"],
                table.parent_key: item.parent_id,
                ROOT_ID: record.instance_id,
            }
            if self._keep(system, item.values, ids):
                yield item.row, Token(number, item.position)

    def _keep(self, system: dict[str, Any], values: dict[str, Any], ids: dict[str, str]) -> bool:
        return self.rest is None or matches(self.rest, self._lookup(system, values, ids))

    def _lookup(
        self, system: dict[str, Any], values: dict[str, Any], ids: dict[str, str]
    ) -> Lookup:
        nodes = self.shaper.schema.nodes

        def lookup(key: str) -> Any:
            if key.startswith("__system/"):
                return system[key.split("/", 1)[1]]
            if key in ids:
                return ids[key]
            return convert(nodes[key].edm, values.get(key))

        return lookup

    def _base(self, *columns: Any, pending: bool | None = None) -> Select[Any]:
        # The root table lists submissions not decrypted too (Central's ``status``); only
        # processed ones have repeat rows.
        pending = self.is_root if pending is None else pending
        return stored(select(*columns), pending=pending, draft=self.draft).where(
            Submission.form_id == self.form.id, *self.sql
        )

    def skip_in_sql(self, skip: int) -> Token | None:
        """Return the token after the first ``skip`` submissions (None: there are no more)."""
        stmt = self._base(Submission.id).order_by(Submission.id.desc()).offset(skip - 1).limit(1)
        found = self.session.scalar(stmt)
        return None if found is None else Token(int(found))

    def page(self, options: Options, limit: int | None) -> Generator[Row, None, Token | int | None]:
        """Yield the rows of a page (``limit`` rows, or all with None) and return, when more
        rows follow, where to resume: a token, or with a ``$orderby`` the next ``$skip``."""
        if self.order:
            return (yield from self._ordered_page(options.skip, limit))
        after, skip = options.skiptoken, 0 if options.skiptoken else options.skip
        if skip and self.is_root and self.rest is None:
            after, skip = self.skip_in_sql(skip), 0
            if after is None:
                return None
        sent = 0
        last: Token | None = None
        for row, token in itertools.islice(self.candidates(after, _batch(skip, limit)), skip, None):
            if limit is not None and sent >= limit:
                return last
            yield row
            sent, last = sent + 1, token
        return None

    def _ordered_page(self, skip: int, limit: int | None) -> Generator[Row, None, int | None]:
        # Root rows not filtered on their values skip in SQL; any other rows are skipped here.
        offset = skip if self.is_root and self.rest is None else 0
        sent = 0
        found = self.candidates(None, _batch(skip - offset, limit), offset)
        for row, _token in itertools.islice(found, skip - offset, None):
            if limit is not None and sent >= limit:
                return skip + sent
            yield row
            sent += 1
        return None

    def count(self) -> int:
        """Count every matching row of the table, ignoring paging."""
        if self.is_root and self.rest is None:
            return int(self.session.scalar(self._base(func.count(Submission.id))) or 0)
        if self.rest is None and not self.resource.within:
            path = self.resource.table.path
            return sum(
                len(entry.document.get("repeats", {}).get(path, []))
                for found in entries(self.session, self.form, where=self.sql, draft=self.draft)
                for entry in found
            )
        return sum(1 for _ in self.candidates(None, BATCH))


def _batch(skip: int, limit: int | None) -> int:
    """Records to read per query: few for a small page, a full batch for a whole table."""
    return BATCH if limit is None else min(BATCH, max(MIN_BATCH, skip + limit + 1))


def read(
    session: Session,
    form: Form,
    path: str,
    args: Mapping[str, str],
    *,
    viewer: Viewer,
    service_url: str,
    actor: Actor | None = None,
    page_size: int | None = None,
    draft: FormVersion | None = None,
) -> Iterator[str]:
    """Answer ``GET <service_url>/<path>?<args>``: Central's envelope as JSON text, in chunks.

    The request is checked here (a bad option, path or filter raises before any text); the rows
    are read as the returned iterator is consumed, within ``session``. ``page_size`` caps a page
    where ``$top`` does not (None, as Central: no cap). With a ``draft``, its test submissions
    are read, in its own tables.
    """
    schema = open_schema(session, form, draft)
    resource = parse_resource(schema, path)
    options = parse_options(args)
    scan = _scan(session, form, schema, resource, options, viewer, draft)
    if resource.instance_id is not None:
        _require_submission(scan, resource.instance_id)
    if viewer.sensitive and actor is not None:
        _audit_sensitive(session, form, schema, resource, actor)
    sizes = [n for n in (options.top, page_size) if n is not None]
    limit = min(sizes) if sizes else None
    context = f"{service_url}/$metadata#{resource.name}"
    return _body(scan, options, limit, context, lambda at: next_link(service_url, path, args, at))


def _body(
    scan: _Scan,
    options: Options,
    limit: int | None,
    context: str,
    link: Callable[[Token | int], str],
) -> Iterator[str]:
    """Write the envelope: context, rows as they are made, then count and next link."""
    head = '{"@odata.context":' + dumps(context) + ',"value":['
    chunk, size, sent = [head], len(head), 0
    rows = scan.page(options, limit)
    while True:
        try:
            row = next(rows)
        except StopIteration as done:
            resume: Token | int | None = done.value
            break
        text = ("," if sent else "") + dumps(row)
        chunk.append(text)
        size, sent = size + len(text), sent + 1
        if size >= CHUNK:
            yield "".join(chunk)
            chunk, size = [], 0
    chunk.append("]")
    if options.count:
        chunk.append(',"@odata.count":' + str(scan.count()))
    if resume is not None and sent:
        chunk.append(',"@odata.nextLink":' + dumps(link(resume)))
    chunk.append("}")
    yield "".join(chunk)


def dumps(value: object) -> str:
    """Return compact JSON text, as the OData responses are written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _scan(
    session: Session,
    form: Form,
    schema: Schema,
    resource: Resource,
    options: Options,
    viewer: Viewer,
    draft: FormVersion | None = None,
) -> _Scan:
    table = resource.table
    selection = parse_select(table, options.select) if options.select else None
    expr = parse(options.filter, resolver(table)) if options.filter else None
    sql, rest = split(expr)
    sql.append(CURRENT)
    if resource.instance_id is not None:
        sql.append(named(form.id, resource.instance_id))
    renderer = Renderer(session, form.project_id, viewer)
    shaper = Shaper(session, schema, renderer, options.wkt, options.expand, selection)
    order = order_by(options.orderby) if options.orderby else []
    tests = None if draft is None else draft.id
    return _Scan(session, form, resource, shaper, sql, rest, order, tests)


def _require_submission(scan: _Scan, instance_id: str) -> None:
    # A submission not decrypted exists too: its repeat tables are empty, not missing.
    stmt = scan._base(Submission.id, pending=True).limit(1)
    if scan.session.scalar(stmt) is None:
        raise NotFound("Could not find the resource you were looking for.")


def _audit_sensitive(
    session: Session, form: Form, schema: Schema, resource: Resource, actor: Actor
) -> None:
    """Record that sensitive values were opened for a reader (an admin), once per request."""
    if not any(f.pii is not None and f.pii.kind == PIIKind.SENSITIVE for f in schema.model.fields):
        return
    audit.record(
        session,
        actor,
        "odata.sensitive",
        project_id=form.project_id,
        subject=form.xml_form_id,
        table=resource.name,
    )
    session.commit()


def next_link(service_url: str, path: str, args: Mapping[str, str], resume: Token | int) -> str:
    """Return the URL of the next page: the same request resumed at a token (or a skip)."""
    params = {k: v for k, v in args.items() if k not in ("$skip", "$skiptoken")}
    if isinstance(resume, Token):
        params["$skiptoken"] = resume.encode()
    else:
        params["$skip"] = str(resume)
    target = quote(path.strip("/"), safe="/()'*")
    return f"{service_url}/{target}?{urlencode(params)}"


def service_document(
    session: Session, form: Form, service_url: str, draft: FormVersion | None = None
) -> dict[str, object]:
    """Return the service document of a form (or of its draft)."""
    return _service_document(open_schema(session, form, draft), service_url)


def metadata(session: Session, form: Form, draft: FormVersion | None = None) -> bytes:
    """Return the CSDL metadata document of a form (or of its draft)."""
    return metadata_xml(open_schema(session, form, draft))
