"""The report's heavier statements, written out per database.

A period's cases are a few per cent of the table; the row each of them names (its item, its
order, its evidence) is one index lookup away. Written as plain joins, PostgreSQL's planner
hashes the whole other table instead (a million order items read to find fifty thousand), so
here the lookups are spelled as correlated subqueries and LATERAL joins, which it runs as
index lookups (`OFFSET 0` keeps a LATERAL subquery from being pulled up into a hash join
again). SQLite's planner looks rows up by index either way; it has no LATERAL.

Every statement binds :start and :end (the period, as the models store instants) and returns a
few hundred rows at most.
"""

from __future__ import annotations

CASES = "cases.created_at >= :start AND cases.created_at < :end"

# The period's cases, each with its item's category and SKU: one index lookup per case, shared
# by the volume cube and the claims per product (the statement below reads them once).
_PERIOD = {
    "postgresql": "LEFT JOIN LATERAL (SELECT category, sku FROM order_items "
    "WHERE order_items.id = cases.item_id OFFSET 0) AS i ON true",
    "sqlite": "LEFT JOIN order_items AS i ON i.id = cases.item_id",
}

# Units sold: each order placed in the period, and its items by order (an index lookup).
_SOLD = {
    "postgresql": "SELECT i.sku, sum(i.quantity) AS units FROM orders o CROSS JOIN LATERAL "
    "(SELECT sku, quantity FROM order_items WHERE order_items.order_id = o.id OFFSET 0) AS i "
    "WHERE o.placed_at >= :start AND o.placed_at < :end GROUP BY i.sku",
    "sqlite": "SELECT i.sku, sum(i.quantity) AS units FROM orders o JOIN order_items i "
    "ON i.order_id = o.id WHERE o.placed_at >= :start AND o.placed_at < :end GROUP BY i.sku",
}


def volume(dialect: str, top: int) -> str:
    """Two kinds of row, told apart by the first column. 'cube': how many cases of each kind,
    service, reason, category and decision. 'product': claims per SKU beside units sold, the
    rows in the top `top` by claims or by rate, each with its two ranks (the rate's rank is
    NULL for a SKU not sold in the period) and its name.

    Columns: part, kind, service, reason, category, outcome, count (cases or claims), sku,
    name, units, by_claims, by_rate."""
    return f"""
WITH period AS MATERIALIZED (
    SELECT cases.kind, cases.service, cases.reason, cases.outcome, cases.item_id, i.category,
           i.sku
    FROM cases {_PERIOD[dialect]} WHERE {CASES}
), claims AS (
    SELECT sku, count(*) AS claims, min(item_id) AS any_item FROM period
    WHERE kind = 'request' GROUP BY sku
), sold AS ({_SOLD[dialect]}), ranked AS (
    SELECT claims.sku, claims.claims, coalesce(sold.units, 0) AS units, claims.any_item,
           row_number() OVER (ORDER BY claims.claims DESC, claims.sku) AS by_claims,
           CASE WHEN sold.units > 0 THEN row_number() OVER (
               PARTITION BY sold.units > 0
               ORDER BY claims.claims * 1.0 / sold.units DESC, claims.claims DESC, claims.sku)
           END AS by_rate
    FROM claims LEFT JOIN sold ON sold.sku = claims.sku
)
SELECT 'cube' AS part, kind, service, reason, category, outcome, count(*) AS n,
       NULL AS sku, NULL AS name, NULL AS units, NULL AS by_claims, NULL AS by_rate
FROM period GROUP BY kind, service, reason, category, outcome
UNION ALL
SELECT 'product', NULL, NULL, NULL, NULL, NULL, claims, sku,
       (SELECT name FROM order_items WHERE order_items.id = any_item), units, by_claims, by_rate
FROM ranked WHERE by_claims <= {int(top)} OR by_rate <= {int(top)}
"""


def reused(dialect: str) -> str:
    """The period's cases with a file also on another case, and how many such files. A
    scalar subquery, not EXISTS: PostgreSQL turns EXISTS into a semi-join that reads the whole
    evidence table; this looks each file up in ix_evidence_file_unique_id."""
    if dialect == "postgresql":
        files = ("FROM cases CROSS JOIN LATERAL (SELECT case_id, file_unique_id FROM evidence "
                 "WHERE evidence.case_id = cases.id OFFSET 0) AS e")  # fmt: skip
    else:
        files = "FROM cases JOIN evidence AS e ON e.case_id = cases.id"
    return f"""
SELECT count(DISTINCT e.case_id), count(DISTINCT e.file_unique_id) {files}
WHERE {CASES} AND (SELECT 1 FROM evidence AS other
    WHERE other.file_unique_id = e.file_unique_id AND other.case_id <> e.case_id LIMIT 1) = 1
"""


def refunds(dialect: str) -> str:
    """Refunds paid in the period by the order's payment method and currency."""
    if dialect == "postgresql":
        orders = ("CROSS JOIN LATERAL (SELECT payment_method, currency FROM orders "
                  "WHERE orders.id = cases.order_id OFFSET 0) AS o")  # fmt: skip
    else:
        orders = "JOIN orders AS o ON o.id = cases.order_id"
    return f"""
SELECT o.payment_method, o.currency, count(*), coalesce(sum(cases.refund_amount), 0)
FROM cases {orders}
WHERE cases.refunded_at >= :start AND cases.refunded_at < :end
GROUP BY o.payment_method, o.currency ORDER BY o.payment_method, o.currency
"""


def times(dialect: str) -> str:
    """The moments of the period's cases that a duration is measured between, as UTC epoch
    seconds (the models store UTC: naive text on SQLite). On PostgreSQL one row of arrays, a
    column each (the aggregates of one scan see its rows in the same order): asyncpg decodes
    five arrays of a month's 40,000 cases in a third of the time it takes for as many rows."""
    if dialect == "postgresql":

        def epoch(c: str) -> str:
            return f"array_agg(CAST(extract(epoch FROM cases.{c}) AS double precision))"

        kind = "array_agg(cases.kind)"
    else:

        def epoch(c: str) -> str:
            return f"(julianday(cases.{c}) - 2440587.5) * 86400.0"

        kind = "cases.kind"

    moments = ", ".join(epoch(c) for c in ("created_at", "handed_over_at",
                                           "first_response_at", "closed_at"))  # fmt: skip
    return (
        f"SELECT {kind}, {moments} FROM cases WHERE {CASES} "
        "AND (cases.handed_over_at IS NOT NULL OR cases.closed_at IS NOT NULL)"
    )
