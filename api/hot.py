"""The busiest routes served in one thread-pool hop.

FastAPI runs each plain ``def`` dependency and the endpoint in thread-pool hops of their own and solves
the dependency graph on every request; on the work queue, registration and action routes that framework
work cost about as much CPU as the route itself (docs/benchmarks.md). A ``HotRoute`` keeps FastAPI's
route (its OpenAPI entry, its validation, its error answers) and adds a shortcut in front of it: it
reads the bearer token, validates the path, query and body parameters with the route's own fields, and
then, in ONE hop, opens the session, checks the token and the role, and calls the endpoint with the same
arguments FastAPI would have given it.

Only the plain case takes the shortcut. A missing, invalid or revoked token, a refused role, a body that
is not JSON, any parameter that does not validate, or dependency overrides hand the request to FastAPI's
own handler untouched (the body stays cached on the request), so every such answer is FastAPI's, in
FastAPI's order. Errors the endpoint raises go to the app's exception handlers as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import routing as fastapi_routing
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from api import deps
from models.accounts import token_identity
from models.clock import Clock
from models.lifecycle import Role

# The dependencies the shortcut knows how to compute, by the endpoint parameter they fill.
_PARAMETERS = {deps.get_session: "session", deps.get_actor: "actor", deps.get_today: "today"}


def _plan(route: APIRoute, dependant: Any) -> tuple[HTTPBearer, tuple[Role, ...] | None]:
    """The bearer scheme and the roles allowed (None: any), or TypeError if the route needs anything the
    shortcut does not compute exactly as FastAPI would."""
    if inspect.iscoroutinefunction(route.endpoint):
        raise TypeError(f"{route.path}: a HotRoute endpoint is a plain def, run in the thread pool")
    if dependant.header_params or dependant.cookie_params or dependant.request_param_name:
        raise TypeError(f"{route.path}: headers, cookies or the request are not passed by the shortcut")
    if dependant.response_param_name or dependant.background_tasks_param_name:
        raise TypeError(f"{route.path}: Response or BackgroundTasks parameters are not passed")
    bearer: HTTPBearer | None = None
    roles: tuple[Role, ...] | None = None
    names: set[str] = set()
    for sub in dependant.dependencies:
        allowed = getattr(sub.call, "allowed_roles", None)
        if sub.name is None and allowed is not None:
            roles = tuple(allowed) if roles is None else tuple(r for r in roles if r in allowed)
            continue
        if sub.call not in _PARAMETERS or sub.name != _PARAMETERS[sub.call]:
            raise TypeError(f"{route.path}: dependency {sub.name!r} is not one the shortcut computes")
        names.add(sub.name)
        if sub.call is deps.get_actor:
            bearer = next(s.call for s in sub.dependencies if isinstance(s.call, HTTPBearer))
    if bearer is None:
        raise TypeError(f"{route.path}: a HotRoute is an authenticated route (an actor parameter)")
    if not {"session", "actor"} <= names:
        raise TypeError(f"{route.path}: the endpoint takes the session and the actor")
    return bearer, roles


def _serve(
    engine: Engine,
    token: str,
    roles: tuple[Role, ...] | None,
    endpoint: Callable[..., Response],
    arguments: dict[str, Any],
) -> Response | None:
    """The whole request in the thread: the token, the role, the endpoint, the session's close. None: the
    token or the role is refused, and FastAPI's handler gives the answer."""
    # As deps.get_session: expire_on_commit=False, closed whatever happens (a rollback if not committed).
    session = Session(engine, expire_on_commit=False)
    try:
        identity = token_identity(session=session, token=token)
        if identity is None or (roles is not None and identity.role not in roles):
            return None
        arguments["actor"] = deps.actor_of(identity)
        arguments["session"] = session
        return endpoint(**arguments)
    finally:
        session.close()


async def _arguments(request: Request, dependant: Any, embed: bool) -> dict[str, Any] | None:
    """The endpoint's path, query and body arguments, validated by the route's own fields as FastAPI
    does; None if any of them fails or the body is anything but JSON sent as application/json."""
    arguments, errors = request_params_to_args(dependant.path_params, request.path_params)
    if not errors and dependant.query_params:
        values, errors = request_params_to_args(dependant.query_params, request.query_params)
        arguments.update(values)
    if not errors and dependant.body_params:
        if request.headers.get("content-type") != "application/json" or not await request.body():
            return None
        try:
            received = await request.json()
        except ValueError:
            return None
        values, errors = await request_body_to_args(dependant.body_params, received, embed)
        arguments.update(values)
    return None if errors else arguments


class HotRoute(APIRoute):
    """An APIRoute whose session, actor, today and role checks are computed with the endpoint in one
    thread-pool hop (module docstring); pass as ``route_class_override``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()
        # As APIRoute.get_route_handler: a route included in a router is built for its inclusion, whose
        # dependant also holds the including routers' dependencies.
        route: Any = self
        context = fastapi_routing._effective_route_context_var.get()
        if context is not None and context.original_route is self:
            route = context
        dependant = route.dependant
        bearer, roles = _plan(self, dependant)
        embed: bool = route._embed_body_fields
        wants_today = any(sub.call is deps.get_today for sub in dependant.dependencies)
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            if getattr(request.app, "dependency_overrides", None):
                return await full(request)
            credentials = await bearer(request)
            if credentials is None:
                return await full(request)
            arguments = await _arguments(request, dependant, embed)
            if arguments is None:
                return await full(request)
            if wants_today:
                clock: Clock = request.app.state.clock  # as deps.get_today
                arguments["today"] = clock.today()
            response = await run_in_threadpool(
                _serve, request.app.state.engine, credentials.credentials, roles, endpoint, arguments
            )
            return response if response is not None else await full(request)

        return handler
