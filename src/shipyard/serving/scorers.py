"""What a worker scores with: an MLflow model without code, or a scoring script.

A :class:`Scorer` is loaded once per worker process (:meth:`Scorer.load`) and then called
for each request from the worker's threads (:meth:`Scorer.score`): raw body in, status and
JSON body out. Failures are exceptions that carry a message for the client and the log:
:class:`LoadFailed` (the worker cannot become ready), :class:`~shipyard.serving.payloads.PayloadError`
(400: the input does not fit the model), :class:`ScoringFailed` (500: the model or the
script raised; ``__cause__`` holds the original exception and its traceback).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.serving._errors import PayloadError

if TYPE_CHECKING:
    from shipyard.serving.payloads import InputSchema, ModelInput

__all__ = ["LoadFailed", "MlflowScorer", "Scorer", "ScoringFailed", "ScriptScorer"]


class LoadFailed(Exception):
    """The model or the scoring script could not be loaded; the message says why."""


class ScoringFailed(Exception):
    """The model or the scoring script raised while scoring; the message says what."""


class Scorer(ABC):
    @abstractmethod
    def load(self) -> None:
        """Load the model (once); raise :class:`LoadFailed`."""

    @abstractmethod
    def score(self, body: bytes) -> bytes:
        """The JSON response body for a request ``body``; raise :class:`PayloadError` or
        :class:`ScoringFailed`."""

    @property
    def batchable(self) -> bool:
        """True when :meth:`score_many` scores several requests in one model call (after
        :meth:`load`); the worker then gathers the requests that arrive together."""
        return False

    def score_many(self, bodies: Sequence[bytes]) -> list[bytes | Exception]:
        """One answer per body, in order: the response body, or the exception :meth:`score`
        would have raised for it (one request's bad input never fails another's)."""
        answers: list[bytes | Exception] = []
        for body in bodies:
            try:
                answers.append(self.score(body))
            except Exception as exc:  # noqa: BLE001 - handed back to be answered per request
                answers.append(exc)
        return answers


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class MlflowScorer(Scorer):
    """A no-code deployment: ``mlflow.pyfunc.load_model(model_dir)``, inputs checked against
    its signature by :mod:`shipyard.serving.payloads`.

    For models of the ``mlflow.sklearn`` flavour whose signature's columns are all checked
    while parsing, the pyfunc's own schema enforcement would repeat that work: the DataFrame
    goes straight to the flavour's ``predict`` (the function the pyfunc calls after
    enforcing). Every other model goes through ``PyFuncModel.predict`` unchanged.
    """

    def __init__(self, model_dir: Path) -> None:
        # pandas and numpy only here: a scoring-script worker in a lean environment has neither.
        from shipyard.serving import payloads

        self._payloads = payloads
        self._dir = model_dir
        self._model: Any = None
        self._schema = payloads.InputSchema()
        self._direct: Any = None

    def load(self) -> None:
        try:
            import mlflow.pyfunc

            model = mlflow.pyfunc.load_model(str(self._dir))
        except Exception as exc:
            raise LoadFailed(f"loading the MLflow model in {self._dir} failed: {_describe(exc)}") from exc
        self._model = model
        meta = model.metadata
        self._schema = self._payloads.InputSchema.from_mlflow(meta.get_input_schema())
        if (
            model.loader_module == "mlflow.sklearn"
            and self._schema.checked
            and meta.get_params_schema() is None
            # private to mlflow and younger than some models' mlflow: absent means no type hint
            and not getattr(meta, "_is_type_hint_from_example", lambda: False)()
        ):
            self._direct = model._model_impl.predict

    @property
    def schema(self) -> InputSchema:
        return self._schema

    @property
    def batchable(self) -> bool:
        return self._direct is not None

    def score(self, body: bytes) -> bytes:
        parsed = self._payloads.parse_request(body, self._schema)
        return self._encode(self._predict(parsed), parsed)

    def score_many(self, bodies: Sequence[bytes]) -> list[bytes | Exception]:
        """Requests whose frames have the same columns are scored by one ``predict`` of their
        rows stacked, and the predictions split back by row counts. Only on the scikit-learn
        path (:attr:`batchable`): scikit-learn's estimator checks require ``predict`` to
        score each row independently of the others in the batch
        (``check_methods_subset_invariance``). A batch whose call raises, or answers a number
        of rows other than it was given, is scored again request by request, so that each
        gets its own answer or error."""
        answers: list[bytes | Exception] = []
        parsed: list[tuple[int, ModelInput]] = []
        for body in bodies:
            try:
                one = self._payloads.parse_request(body, self._schema)
            except Exception as exc:  # noqa: BLE001 - answered per request
                answers.append(exc)
                continue
            answers.append(b"")
            parsed.append((len(answers) - 1, one))
        for group in _groups(parsed) if self.batchable else [[p] for p in parsed]:
            for slot, answer in zip(
                (i for i, _ in group), self._score_group([m for _, m in group]), strict=True
            ):
                answers[slot] = answer
        return answers

    def _score_group(self, inputs: list[ModelInput]) -> list[bytes | Exception]:
        parts: list[Any] | None = None
        if len(inputs) > 1:
            try:
                predictions = self._direct(self._payloads.stack([m.data for m in inputs]))
                parts = _split(predictions, [len(m.data) for m in inputs])
            except Exception:  # noqa: BLE001 - scored again one by one below, each with its own error
                parts = None
        answers: list[bytes | Exception] = []
        for i, parsed in enumerate(inputs):
            try:
                predictions = self._predict(parsed) if parts is None else parts[i]
                answers.append(self._encode(predictions, parsed))
            except Exception as exc:  # noqa: BLE001 - answered per request
                answers.append(exc)
        return answers

    def _predict(self, parsed: ModelInput) -> Any:
        try:
            if self._direct is not None and not parsed.params:
                return self._direct(parsed.data)
            return self._model.predict(parsed.data, params=parsed.params)
        except Exception as exc:
            if _is_input_error(exc):
                raise PayloadError(getattr(exc, "message", str(exc))) from exc
            raise ScoringFailed(f"predict() raised {_describe(exc)}") from exc

    def _encode(self, predictions: Any, parsed: ModelInput) -> bytes:
        try:
            return self._payloads.encode_predictions(predictions, parsed.style)
        except TypeError as exc:
            raise ScoringFailed(f"the model's predictions are not JSON-serialisable: {exc}") from exc


def _groups(parsed: list[tuple[int, ModelInput]]) -> list[list[tuple[int, ModelInput]]]:
    """Requests that can share one ``predict``: frames (no params) with the same columns and
    dtypes, in arrival order; every other request on its own."""
    groups: dict[Any, list[tuple[int, ModelInput]]] = {}
    alone: list[list[tuple[int, ModelInput]]] = []
    for item in parsed:
        data = item[1].data
        if item[1].params or not hasattr(data, "columns") or not hasattr(data, "dtypes"):
            alone.append([item])
            continue
        groups.setdefault((tuple(data.columns), tuple(data.dtypes)), []).append(item)
    return [*groups.values(), *alone]


def _split(predictions: Any, rows: list[int]) -> list[Any] | None:
    """``predictions`` for the stacked rows cut back into one part per request; None when
    they do not have one entry per row (a model answering per batch is not batchable)."""
    if isinstance(predictions, dict) or not hasattr(predictions, "__len__"):
        return None
    if len(predictions) != sum(rows):
        return None
    take = predictions.iloc.__getitem__ if hasattr(predictions, "iloc") else predictions.__getitem__
    parts, start = [], 0
    for n in rows:
        parts.append(take(slice(start, start + n)))
        start += n
    return parts


def _is_input_error(exc: Exception) -> bool:
    """MLflow's schema enforcement rejects input with these codes (a 400 in ``mlflow models serve``)."""
    code = getattr(exc, "error_code", None)
    return type(exc).__name__ == "MlflowException" and code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")


class ScriptScorer(Scorer):
    """A scoring script with ``init()`` and ``run(raw_data)``, as Azure ML runs it: imported
    from its file with ``code_dir`` first on ``sys.path``, ``AZUREML_MODEL_DIR`` set,
    ``init()`` called once, ``run()`` called with the request body as text."""

    def __init__(self, code_dir: Path, scoring_script: str, model_dir: Path | None) -> None:
        self._code_dir = code_dir
        self._script = scoring_script
        self._model_dir = model_dir
        self._run: Any = None

    def load(self) -> None:
        if self._model_dir is not None:
            os.environ["AZUREML_MODEL_DIR"] = str(self._model_dir)
        module = self._import()
        init, run = getattr(module, "init", None), getattr(module, "run", None)
        if not callable(run):
            raise LoadFailed(f"the scoring script {self._script} has no run(raw_data) function")
        if callable(init):
            try:
                init()
            except Exception as exc:
                raise LoadFailed(f"init() raised {_describe(exc)}") from exc
        self._run = run

    def _import(self) -> ModuleType:
        path = (self._code_dir / self._script).resolve()
        if not path.is_file():
            raise LoadFailed(f"the scoring script {self._script} is not in {self._code_dir}")
        code_dir = str(self._code_dir.resolve())
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        name = inspect.getmodulename(str(path)) or path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise LoadFailed(f"importing the scoring script {self._script} raised {_describe(exc)}") from exc
        return module

    def score(self, body: bytes) -> bytes:
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(f"the request body is not UTF-8 text: {exc}") from None
        try:
            result = self._run(raw)
        except Exception as exc:
            raise ScoringFailed(f"run() raised {_describe(exc)}") from exc
        try:
            return orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise ScoringFailed(f"run() returned a value that is not JSON-serialisable: {exc}") from exc
