"""AppOptics metrics: list, get, create/update, delete, one by name or in batches."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vigil.api.appoptics.measurements import compose_response
from vigil.api.endpoint import endpoint, services
from vigil.api.http import empty_response, json_response, query_params, read_params
from vigil.auth.roles import Access
from vigil.auth.tokens import Principal
from vigil.errors import NotFound, ParamsError, param_error
from vigil.metrics import samples
from vigil.metrics.catalog import ORDERABLE, Metric
from vigil.metrics.names import check_metric_name, metric_key
from vigil.metrics.properties import parse_changes
from vigil.services import Services

MAX_LENGTH = 100


def page_params(params: dict[str, Any], orderable: tuple[str, ...], default_order: str) -> tuple[int, int, str, bool]:
    """offset, length (≤100, default 100), orderby and sort, as every paginated list takes them."""
    errors: dict[str, list[str]] = {}
    values: dict[str, int] = {}
    for name, default in (("offset", 0), ("length", MAX_LENGTH)):
        raw = params.get(name, default)
        try:
            values[name] = int(raw)
        except (TypeError, ValueError):
            errors[name] = ["is not a whole number"]
            continue
        if values[name] < 0:
            errors[name] = ["must not be negative"]
    if "length" in values and not errors.get("length") and not 1 <= values["length"] <= MAX_LENGTH:
        errors["length"] = [f"must be between 1 and {MAX_LENGTH}"]
    orderby = params.get("orderby", default_order)
    if orderby not in orderable:
        errors["orderby"] = ["must be one of " + ", ".join(orderable)]
    sort = params.get("sort", "asc")
    if sort not in ("asc", "desc"):
        errors["sort"] = ["must be asc or desc"]
    if errors:
        raise ParamsError(errors)
    return values["offset"], values["length"], str(orderby), sort == "desc"


def _checked_name(request: Request) -> str:
    name = request.path_params["name"]
    reason = check_metric_name(name)
    if reason:
        raise param_error("name", reason)
    return name


@endpoint(Access.READ, "GET /v1/metrics")
async def list_metrics(request: Request, principal: Principal) -> Response:
    params = query_params(request)
    if "compose" in params:  # the legacy composite route the official client still calls
        return await compose_response(request, params)
    offset, length, orderby, descending = page_params(params, ORDERABLE, "name")
    name = params.get("name")
    page, found, total = await services(request).catalog.list(
        name=name if isinstance(name, str) else None, offset=offset, length=length, orderby=orderby,
        descending=descending)
    return json_response({"query": {"found": found, "length": len(page), "offset": offset, "total": total},
                          "metrics": [m.to_json() for m in page]})


@endpoint(Access.READ, "GET /v1/metrics/:name")
async def get_metric(request: Request, principal: Principal) -> Response:
    name = _checked_name(request)
    metric = await services(request).catalog.get(name)
    if metric is None:
        raise NotFound(f"Metric {name} does not exist")
    return json_response(metric.to_json())


@endpoint(Access.MANAGE, "PUT /v1/metrics/:name")
async def put_metric(request: Request, principal: Principal) -> Response:
    svc = services(request)
    name = _checked_name(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    given = body.get("name")
    if given is not None and (not isinstance(given, str) or metric_key(given) != metric_key(name)):
        raise param_error("name", "must match the name in the URL")
    changes = parse_changes(body)
    metric, created = await svc.catalog.put(name, changes, request.headers.get("user-agent"))
    if created:
        return json_response(metric.to_json(), 201, {"Location": f"/v1/metrics/{metric.name}"})
    return empty_response(204)


async def _delete(svc: Services, metrics: list[Metric]) -> None:
    await svc.writer.sync()  # measurements still in the write-ahead log must go too
    svc.recent.forget(m.key for m in metrics)
    await samples.delete_metrics(svc.telemetry, [m.key for m in metrics])
    await svc.catalog.delete(metrics)
    svc.ingestor.forget_series()
    svc.series_index.forget(m.key for m in metrics)


@endpoint(Access.MANAGE, "DELETE /v1/metrics/:name")
async def delete_metric(request: Request, principal: Principal) -> Response:
    svc = services(request)
    name = _checked_name(request)
    metric = await svc.catalog.get(name)
    if metric is None:
        raise NotFound(f"Metric {name} does not exist")
    await _delete(svc, [metric])
    return empty_response(204)


async def _selected(svc: Services, body: dict[str, Any]) -> list[Metric]:
    """The metrics a batch call names: a `names[]` list, or one `names` pattern with `*` wildcards."""
    names = body.get("names")
    if isinstance(names, str) and names:
        if "*" in names:
            return await svc.catalog.select(pattern=names)
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise param_error("names", "must be a list of metric names or one pattern with * wildcards")
    if len(names) > 10_000:
        raise param_error("names", "may name at most 10000 metrics")
    return await svc.catalog.select(names=names)


def _job_response(job_id: int) -> Response:
    return empty_response(202, {"Location": f"/v1/jobs/{job_id}"})


@endpoint(Access.MANAGE, "PUT /v1/metrics")
async def update_metrics(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_params(request, svc.settings.max_body_bytes)
    metrics = await _selected(svc, body)
    changes = parse_changes({k: v for k, v in body.items() if k != "names"}, top_level_attributes=True)
    if changes.is_empty():
        raise param_error("names", "nothing to update: give properties or attributes to set")
    for metric in metrics:
        svc.catalog.apply(metric, changes)  # every metric must accept the change before any is written
    if len(metrics) > svc.settings.metrics_bulk_job_threshold:
        async def work(progress: Any) -> None:
            step = 500
            for i in range(0, len(metrics), step):
                await svc.catalog.update_many(metrics[i:i + step], changes)
                await progress(100.0 * min(i + step, len(metrics)) / len(metrics))
        return _job_response(await svc.jobs.start("update_metrics", work))
    await svc.catalog.update_many(metrics, changes)
    return empty_response(204)


@endpoint(Access.MANAGE, "DELETE /v1/metrics")
async def delete_metrics(request: Request, principal: Principal) -> Response:
    svc = services(request)
    params = await read_params(request, svc.settings.max_body_bytes)
    if not params:
        params = query_params(request)
    metrics = await _selected(svc, params)
    if len(metrics) > svc.settings.metrics_bulk_job_threshold:
        async def work(progress: Any) -> None:
            step = 100
            for i in range(0, len(metrics), step):
                await _delete(svc, metrics[i:i + step])
                await progress(100.0 * min(i + step, len(metrics)) / len(metrics))
        return _job_response(await svc.jobs.start("delete_metrics", work))
    await _delete(svc, metrics)
    return empty_response(204)


routes = [
    Route("/v1/metrics", list_metrics, methods=["GET"]),
    Route("/v1/metrics", update_metrics, methods=["PUT"]),
    Route("/v1/metrics", delete_metrics, methods=["DELETE"]),
    Route("/v1/metrics/{name}", get_metric, methods=["GET"]),
    Route("/v1/metrics/{name}", put_metric, methods=["PUT"]),
    Route("/v1/metrics/{name}", delete_metric, methods=["DELETE"]),
]
