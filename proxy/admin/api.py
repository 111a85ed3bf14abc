"""The management API: FastAPI routes over the running proxy (README, "Management API").

Every route and dependency is ``async``: FastAPI runs plain functions in a thread
pool, and the state they read (directory, lines, counters) belongs to the loop.

Every route names who may call it; the rules live in ``proxy.admin.views`` and
``proxy.admin.access``. A refusal is a 4xx with a ``detail`` a person can act on.
The OpenAPI document is served at ``/openapi.json`` (and ``/docs``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Protocol

from fastapi import Body as FastApiBody
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from proxy.admin.access import CHALLENGE, Access, Caller, Credentials, Refused
from proxy.admin.console import ConsoleFiles
from proxy.admin.delegations import (
    NotAllowed,
    Permission,
    answered,
    check_invitee,
    check_manager,
    check_vip_manager,
    locked_refusal,
    with_contact_replaced,
    with_delegate,
    with_new_contact,
    with_policies,
    without_contact,
    without_delegate,
)
from proxy.admin.events import line_events
from proxy.admin.linefeed import LineFeeds
from proxy.admin.rights import rights_json
from proxy.admin.views import (
    line_json,
    may_see_line,
    page,
    shared_delegators,
    user_json,
)
from proxy.auth import DigestAuthority
from proxy.config.errors import ConfigError
from proxy.dialog import Outcome
from proxy.dialog.views import LineView
from proxy.history.decision_text import decision_text
from proxy.history.view import SINCE_FORMS, since_time
from proxy.notices import Notice, notices_of
from proxy.policy.decide import CallInfo, decide
from proxy.policy.directory import DelegationStatus
from proxy.reloading import LiveConfig
from proxy.store import CallHistory, HistoryOrder, Registration, StoreError

HISTORY_PAGE = 50
HISTORY_PAGE_MAX = 500
# The address an explained call comes from when none is given (as `vipproxy explain`).
EXPLAIN_PEER = "127.0.0.1"

class HistoryPages(Protocol):
    """One page of the shared call history and the number of calls in all pages
    (``Store.call_history_page``)."""

    async def __call__(self, *, lines: Collection[str] | None,
                       delegators: Collection[str] | None, since: float | None,
                       outcomes: Collection[str] | None, offset: int, limit: int,
                       order: HistoryOrder) -> tuple[int, list[CallHistory]]: ...


@dataclass(frozen=True, slots=True)
class RunningProxy:
    """What the API reads and asks of the running proxy (wired by ``proxy.app``)."""

    live: LiveConfig
    authority: DigestAuthority | None  # None: no user has SIP credentials
    access: Access
    line: Callable[[str], LineView | None]
    feeds: LineFeeds  # the lines' live state, for the event stream
    history: HistoryPages
    registrations: Callable[[float], Awaitable[list[Registration]]]
    metrics: CollectorRegistry
    clock: Callable[[], float]  # Unix seconds
    notify: Callable[[Notice], None]  # queued for the webhook and e-mail

    def credentials(self) -> Credentials:
        config = self.live.config
        return Credentials(
            admin_token=config.api.admin_token if config.api is not None else None,
            authority=self.authority,
            users={item.username: user for user, item in config.credentials.items()},
        )


async def _caller(request: Request) -> Caller:
    """Who sent ``request``; 401 or 429 when nobody we know."""
    proxy: RunningProxy = request.app.state.proxy
    source = request.client.host if request.client is not None else ""
    outcome = proxy.access.identify(request.headers.get("authorization"),
                                    proxy.credentials(), source, proxy.clock())
    if isinstance(outcome, Refused):
        raise _refusal(outcome)
    return outcome


async def _admin(who: Annotated[Caller, Depends(_caller)]) -> Caller:
    if not who.admin:
        raise HTTPException(403, "only the administrator may do this")
    return who


Who = Annotated[Caller, Depends(_caller)]
Admin = Annotated[Caller, Depends(_admin)]
# A JSON object; its values are judged by the configuration's models.
Body = Annotated[dict[str, Any], FastApiBody()]


def build_api(proxy: RunningProxy) -> FastAPI:
    """The ASGI application."""
    api = FastAPI(title="vipproxy management API", version="1")
    api.state.proxy = proxy
    api.add_exception_handler(RequestValidationError, _invalid_request)

    @api.post("/login", summary="a bearer token for a user (log in with HTTP Basic)")
    async def login(who: Who) -> dict[str, Any]:
        if who.admin:
            raise HTTPException(400, "the administrator uses the admin token as bearer token")
        token, lifetime = proxy.access.open_session(who, proxy.clock())
        return {"token": token, "token_type": "bearer", "expires_in": int(lifetime),
                "user": who.user}

    @api.get("/me", summary="who you are and, per delegation you take part in, what you"
             " may change there (or why not) and which policies it may choose now")
    async def me(who: Who) -> dict[str, Any]:
        return rights_json(proxy.live.config.directory, who, proxy.live.locked)

    @api.get("/users", summary="every user: id, name, lines (endpoints for the admin)")
    async def users(who: Who) -> list[dict[str, Any]]:
        directory = proxy.live.config.directory
        return [user_json(user, who) for user in directory.users.values()]

    @api.get("/users/{user_id}", summary="one user")
    async def user(user_id: str, who: Who) -> dict[str, Any]:
        found = proxy.live.config.directory.users.get(user_id)
        if found is None:
            raise HTTPException(404, f"no user {user_id!r}")
        return user_json(found, who)

    @api.get("/lines/{number}", summary="a line now: state and live dialogs")
    async def line(number: str, who: Who) -> dict[str, Any]:
        directory = proxy.live.config.directory
        if directory.line_owner(number) is None:
            raise HTTPException(404, f"{number!r} is nobody's line")
        if not may_see_line(directory, who, number):
            raise HTTPException(403, f"line {number} is not yours nor a delegator's who has"
                                " you as an accepted delegate")
        view = proxy.line(number)
        assert view is not None, "the tracker knows every line of the directory"
        return line_json(view)

    @api.get("/events/lines", response_class=StreamingResponse,
             summary="the live state of every line you may see, as server-sent events:"
                     " a snapshot, then one event per change")
    async def lines_stream(who: Who) -> StreamingResponse:
        # no-store: a cache would replay old states; X-Accel-Buffering: a reverse
        # proxy (nginx) in front must pass each event on as it comes.
        return StreamingResponse(line_events(proxy.feeds, who, proxy.live.config.directory),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    @api.get("/history", summary="the shared call history, one page, each call with its"
                                 " routing decision in words (decision_text)")
    async def history(
        who: Who,
        line: Annotated[str | None, Query(description="only calls on this line")] = None,
        since: Annotated[str | None, Query(description=f"only calls started since: "
                                                       f"{SINCE_FORMS}")] = None,
        outcome: Annotated[list[Outcome] | None, Query(
            description="only calls with this outcome (repeat for several)")] = None,
        order: Annotated[HistoryOrder, Query(description="oldest or newest first")] = (
            HistoryOrder.OLDEST_FIRST),
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=HISTORY_PAGE_MAX)] = HISTORY_PAGE,
    ) -> dict[str, Any]:
        directory = proxy.live.config.directory
        lines = None
        if line is not None:
            if not may_see_line(directory, who, line):
                raise HTTPException(403, f"line {line} is not yours nor a delegator's who has"
                                    " you as an accepted delegate")
            lines = [directory.normalize(line)]
        started = None
        if since is not None:
            try:
                started = since_time(since, proxy.clock())
            except ValueError as error:
                raise HTTPException(422, f"since: {error}") from None
        total, rows = await proxy.history(lines=lines,
                                          delegators=shared_delegators(directory, who),
                                          since=started, outcomes=outcome, offset=offset,
                                          limit=limit, order=order)
        return page(total, [{**asdict(row), "decision_text": decision_text(row)}
                            for row in rows], offset, limit)

    @api.get("/explain", summary="how a call would be routed now, and why (as vipproxy "
                                 "explain)")
    async def explain(
        who: Who,
        caller: Annotated[str, Query(alias="from", description="caller number (From)")],
        to: Annotated[str, Query(description="called number or line")],
        asserted: Annotated[str | None, Query(description="P-Asserted-Identity number")] = None,
        peer: Annotated[str, Query(description="IP address the call comes from")] = EXPLAIN_PEER,
        user: Annotated[str | None, Query(description="placed from this user's phone")] = None,
        preferred: Annotated[str | None, Query(description="P-Preferred-Identity")] = None,
    ) -> dict[str, Any]:
        directory = proxy.live.config.directory
        if not may_see_line(directory, who, to):
            raise HTTPException(403, f"{to} is not your line nor a delegator's who has you as"
                                " an accepted delegate")
        call = CallInfo.described(caller, to, peer=peer, asserted=asserted, user=user,
                                  preferred=preferred)
        decision = decide(call, directory, proxy.clock())
        return {"routed": decision.plan is not None, "policy": decision.policy,
                "reason": decision.reason, "stages": decision.planned_stages,
                "explanation": decision.explain()}

    @api.get("/registrations", summary="every unexpired registration (admin)")
    async def registrations(who: Admin) -> list[dict[str, Any]]:
        now = proxy.clock()
        rows = await proxy.registrations(now)
        return [{**asdict(row), "expires_in": int(row.expires_at - now)} for row in rows]

    @api.post("/admin/reload", summary="read the configuration file again (admin)",
              responses={422: {"description": "the file is invalid; nothing changed"}})
    async def reload(who: Admin) -> JSONResponse:
        outcome = proxy.live.reload()
        return JSONResponse(outcome.as_json(), status_code=200 if outcome.applied else 422)

    @api.get("/delegations/{delegator}", summary="a delegation: delegates, policies, ring"
             " timeout, VIP contacts (the delegator, their delegates, admin)")
    async def delegation(delegator: str, who: Who) -> dict[str, Any]:
        _known_user(proxy, delegator)
        settings = proxy.live.settings_of(delegator)
        if not (who.admin or who.user == delegator
                or who.user in (settings.get("delegates") or {})):
            raise HTTPException(403, f"{delegator}'s delegation is theirs and their delegates'")
        return {"delegator": delegator, "locked": proxy.live.locked(delegator), **settings}

    @api.patch("/delegations/{delegator}", summary="the policies (vip_delegation) and the"
               " ring timeout")
    async def policies(delegator: str, who: Who, body: Body) -> dict[str, Any]:
        return await _change(proxy, who, delegator, check_manager,
                             lambda settings: with_policies(settings, body))

    @api.put("/delegations/{delegator}/delegates/{delegate}", summary="invite a delegate"
             " (pending until they accept) or change their privileges")
    async def invite(delegator: str, delegate: str, who: Who, body: Body) -> dict[str, Any]:
        _known_user(proxy, delegate)
        return await _change(proxy, who, delegator, check_manager,
                             lambda settings: with_delegate(settings, delegate, body))

    @api.delete("/delegations/{delegator}/delegates/{delegate}", summary="remove a delegate")
    async def remove(delegator: str, delegate: str, who: Who) -> dict[str, Any]:
        return await _change(proxy, who, delegator, check_manager,
                             lambda settings: without_delegate(settings, delegate))

    @api.get("/invitations", summary="the delegations you are invited to, with their status")
    async def invitations(who: Who) -> list[dict[str, Any]]:
        directory = proxy.live.config.directory
        return [{"delegator": delegation.delegator, "privileges": sorted(delegate.privileges),
                 "status": str(delegate.status)}
                for delegation in directory.delegations.values()
                for delegate in delegation.delegates if delegate.user == who.user]

    @api.post("/invitations/{delegator}/accept", summary="accept an invitation")
    async def accept(delegator: str, who: Who) -> dict[str, Any]:
        return await _answer(proxy, who, delegator, DelegationStatus.ACCEPTED)

    @api.post("/invitations/{delegator}/decline", summary="decline an invitation")
    async def decline(delegator: str, who: Who) -> dict[str, Any]:
        return await _answer(proxy, who, delegator, DelegationStatus.DECLINED)

    @api.post("/delegations/{delegator}/vip_contacts", status_code=201,
              summary="add a VIP contact: first_name, last_name, company, email, numbers")
    async def add_contact(delegator: str, who: Who, body: Body) -> dict[str, Any]:
        return await _change(proxy, who, delegator, check_vip_manager,
                             lambda settings: with_new_contact(settings, body))

    @api.put("/delegations/{delegator}/vip_contacts/{index}", summary="replace a VIP contact")
    async def replace_contact(delegator: str, index: int, who: Who,
                              body: Body) -> dict[str, Any]:
        return await _change(proxy, who, delegator, check_vip_manager,
                             lambda settings: with_contact_replaced(settings, index, body))

    @api.delete("/delegations/{delegator}/vip_contacts/{index}",
                summary="remove a VIP contact")
    async def delete_contact(delegator: str, index: int, who: Who) -> dict[str, Any]:
        return await _change(proxy, who, delegator, check_vip_manager,
                             lambda settings: without_contact(settings, index))

    @api.get("/console", include_in_schema=False)
    async def console() -> RedirectResponse:
        # The mount would serve the page at /console too, where its relative links
        # (console.js, ../login) would resolve one level too high.
        return RedirectResponse("/console/", status_code=308)

    api.mount("/console", ConsoleFiles(), name="console")

    @api.get("/metrics", summary="Prometheus metrics (text format)",
             response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(proxy.metrics), media_type=CONTENT_TYPE_LATEST)

    return api


async def _answer(proxy: RunningProxy, who: Caller, delegator: str,
                  status: DelegationStatus) -> dict[str, Any]:
    """The caller answers ``delegator``'s invitation."""
    return await _change(proxy, who, delegator, check_invitee,
                         lambda settings: answered(settings, who.user or "", status))


async def _change(proxy: RunningProxy, who: Caller, delegator: str, may: Permission,
                  change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Apply ``change`` to ``delegator``'s settings if ``may`` lets ``who``: checked
    with the whole file by the configuration's models (422 naming every problem by
    its path, nothing changed), in force for the next call, kept in the store."""
    _known_user(proxy, delegator)
    try:
        if proxy.live.locked(delegator):
            raise locked_refusal(delegator)
        may(proxy.live.config.directory, who, delegator)
        before = proxy.live.settings_of(delegator)
        settings = change(proxy.live.settings_of(delegator))
        await proxy.live.change_settings(delegator, settings)
    except NotAllowed as refused:
        raise HTTPException(refused.status, refused.reason) from None
    except ConfigError as error:
        raise HTTPException(422, [str(problem) for problem in error.problems]) from None
    except StoreError as error:
        raise HTTPException(503, f"the change could not be kept: {error.problem}") from None
    for notice in notices_of(delegator, before, settings):
        proxy.notify(notice)
    return {"delegator": delegator, **settings}


def _known_user(proxy: RunningProxy, user: str) -> None:
    if user not in proxy.live.config.directory.users:
        raise HTTPException(404, f"no user {user!r}")


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    """A parameter or body FastAPI could not read (malformed JSON, a limit out of
    range): 422 with each problem as ``path: what is wrong``, as the configuration's
    problems are written."""
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": [_problem(item) for item in error.errors()]},
                        status_code=422)


def _problem(item: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in item["loc"])
    if item.get("type") == "json_invalid":  # its location ends with the offset
        return (f"body: not valid JSON at character {item['loc'][-1]}"
                f" ({item.get('ctx', {}).get('error', 'cannot be read')})")
    return f"{location}: {item['msg']}"


def _refusal(refused: Refused) -> HTTPException:
    headers = {}
    if refused.status == 401:
        headers["WWW-Authenticate"] = CHALLENGE
    if refused.retry_after is not None:
        headers["Retry-After"] = str(int(refused.retry_after + 0.5))
    return HTTPException(refused.status, refused.reason, headers=headers or None)
