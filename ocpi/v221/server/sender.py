"""Shared plumbing of the Sender GET interfaces: pagination, Link URLs, routing headers."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from ocpi.envelope import PageRequest, pagination_headers
from ocpi.headers import RoutingHeaders
from ocpi.v221.ports import Page, SenderQuery
from ocpi.v221.server.common import ServerConfig, ocpi_response


def sender_query(
    request: Request[Any, Any, Any], config: ServerConfig, *, require_date_from: bool = False
) -> tuple[SenderQuery, RoutingHeaders]:
    """Parse the pagination parameters and the routing headers (2001 when invalid).

    ``require_date_from``: the module makes ``date_from`` required (Sessions); without it the
    request is 2001 too.
    """
    routing = RoutingHeaders.parse(request.headers)
    page = PageRequest.from_query(
        dict(request.query_params),
        max_limit=config.max_page_limit,
        require_date_from=require_date_from,
    )
    return SenderQuery(page=page, receiver=routing.receiver), routing


def page_response(
    request: Request[Any, Any, Any],
    config: ServerConfig,
    module: str,
    query: SenderQuery,
    routing: RoutingHeaders,
    page: Page[Any],
) -> Response[dict[str, Any]]:
    """The page with ``X-Total-Count``, ``X-Limit`` and a ``Link`` carrying every filter.

    The Link is built on the public base URL, not on the URL the request arrived at, which may be
    an internal address behind a proxy.
    """
    url = config.module_url("2.2.1", module)
    if request.url.query:
        url = f"{url}?{request.url.query}"
    headers = pagination_headers(
        url,
        offset=query.page.offset,
        limit=query.page.limit,
        total=page.total,
        max_limit=config.max_page_limit,
    )
    headers.update(routing.reversed().as_headers())
    return ocpi_response(list(page.items), headers=headers)
