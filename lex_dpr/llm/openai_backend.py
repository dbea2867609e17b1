"""Any OpenAI-compatible chat server as a :class:`~lex_dpr.llm.base.Generator` (``openai:URL``).

vLLM, the llama.cpp server, Ollama and ``transformers serve`` all answer ``POST {URL}/chat/completions``;
the official ``openai`` client talks to them. A batch is sent ``concurrency`` requests at a time and comes
back in input order. A request that fails (connection refused or an HTTP 5xx/429 after ``max_retries``
retries, no answer within ``timeout``, an answer that is not a chat completion) gives that conversation
``Generation("", error=...)`` and the others go on.

**Waiting.** ``connect_timeout`` (5 s) bounds connecting and, at start, the server's model list: a server
that accepts connections and never answers fails in seconds, saying what it did not answer. ``timeout``
(60 s) bounds each answer and is not retried (a server that did not answer in time will not in a retry
either). When nothing has come back after ``connect_timeout`` seconds, one warning says what is awaited,
from where, and until when.

Settings sent with every request: ``max_tokens``, ``seed``, ``temperature`` (0 when ``do_sample`` is off,
else with ``top_p``) and ``logit_bias`` -100 for each banned token id (the server's vocabulary). Settings
outside the OpenAI schema go in the request body as vLLM names them, and only when they change anything:
``top_k`` (sampling, >0), ``repetition_penalty`` (!= 1) and ``bad_words`` (banned strings). A server that
rejects them (``transformers serve`` answers HTTP 422 to unknown fields) gets the request again without
them, once, with one warning; later requests leave them out. Banned strings are also removed from every
answer afterwards, whatever the server did with them.

Example:
    >>> gen = OpenAIGenerator("http://127.0.0.1:8000/v1", GenerationConfig())  # doctest: +SKIP
    >>> [g.text for g in gen.generate([[{"role": "user", "content": "안녕"}]], GenerationConfig())]  # doctest: +SKIP
    ['안녕하세요.']
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import openai

from lex_dpr.errors import InputError
from lex_dpr.llm.banned import strip_banned
from lex_dpr.llm.base import Generation, GenerationConfig, Message

log = logging.getLogger(__name__)

_EXTRAS_REJECTED = (400, 422)


class OpenAIGenerator:
    """A chat-completions client for one server and one model.

    Args:
        url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        config: ``api_key`` (``None``: ``$OPENAI_API_KEY``, else ``"EMPTY"``), ``timeout``, ``max_retries`` and
            ``model`` (``None``: the first model the server lists) are read here.

    Raises:
        InputError: the server cannot be reached, or it lists no model and ``generation.model`` is not set.
    """

    def __init__(self, url: str, config: GenerationConfig):
        self.url = url
        api_key = config.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.client = openai.OpenAI(base_url=url, api_key=api_key, timeout=_timeout(config), max_retries=0)
        listed = self._list_models(config.connect_timeout)  # also the check that the server is up
        self.model = config.model or self._first_model(listed)
        self.name = f"openai:{self.model}@{url}"
        self.fingerprint = f"openai:{url}:{self.model}"
        self._send_extras = True
        self._lock = threading.Lock()
        self._waiting_said = False

    def _list_models(self, wait: float) -> list[str] | Exception:
        """The served models' names, or why the server did not list them; raises when it cannot be reached."""
        try:
            return [m.id for m in self.client.with_options(timeout=wait).models.list()]
        except openai.APITimeoutError:
            raise InputError(f"{self.url} did not answer GET {self.url.rstrip('/')}/models within {wait:g} s (it "
                             "accepts connections but sends nothing back): is it still loading the model? Wait and "
                             "retry, raise --connect-timeout (generation.connect_timeout), or check --llm") from None
        except openai.APIConnectionError as exc:
            raise InputError(f"cannot reach {self.url} ({describe_error(exc)}): start the server or check --llm") from None
        except (openai.APIError, ValueError, AttributeError, TypeError) as exc:
            return exc  # it answered: some servers have no GET /models, and generation.model names the model

    def _first_model(self, listed: list[str] | Exception) -> str:
        if isinstance(listed, Exception):
            raise InputError(f"{self.url} did not list its models ({describe_error(listed)}): "
                             "set generation.model to the served model's name")
        if not listed:
            raise InputError(f"{self.url} lists no models: set generation.model to the served model's name")
        return listed[0]

    def generate(self, conversations: Sequence[list[Message]], config: GenerationConfig) -> list[Generation]:
        """One :class:`Generation` per conversation, in input order; never raises for one failed request."""
        if not conversations:
            return []
        client = self.client.with_options(timeout=_timeout(config), max_retries=0)
        answered = threading.Event()
        notice = threading.Timer(config.connect_timeout, self._still_waiting, (len(conversations), config, answered))
        notice.daemon = True
        notice.start()
        try:
            with ThreadPoolExecutor(max_workers=min(config.concurrency, len(conversations))) as pool:
                return list(pool.map(lambda c: self._one(client, list(c), config, answered), conversations))
        finally:
            notice.cancel()

    def _still_waiting(self, n: int, config: GenerationConfig, answered: threading.Event) -> None:
        """Say once what is being waited for, when nothing has come back after ``connect_timeout`` seconds."""
        with self._lock:
            if answered.is_set() or self._waiting_said:
                return
            self._waiting_said = True
        log.warning("waiting for %s (model %s) to answer %d question(s): nothing back after %g s; giving up after "
                    "%g s (--llm-timeout, generation.timeout)", self.url, self.model, n, config.connect_timeout,
                    config.timeout)

    def request(self, conversation: list[Message], config: GenerationConfig, extras: bool = True) -> dict:
        """The keyword arguments for ``chat.completions.create`` (``extra_body`` only with ``extras``)."""
        kwargs: dict = {"model": self.model, "messages": conversation, "max_tokens": config.max_new_tokens,
                        "seed": config.seed}
        sample = config.do_sample and config.temperature > 0
        kwargs["temperature"] = config.temperature if sample else 0.0
        if sample:
            kwargs["top_p"] = config.top_p
        if config.banned_token_ids:
            kwargs["logit_bias"] = {str(i): -100.0 for i in config.banned_token_ids}  # a float: transformers serve rejects ints
        body = {}
        if sample and config.top_k > 0:
            body["top_k"] = config.top_k
        if config.repetition_penalty != 1.0:
            body["repetition_penalty"] = config.repetition_penalty
        if config.banned_strings:
            body["bad_words"] = list(config.banned_strings)
        if body and extras:
            kwargs["extra_body"] = body
        return kwargs

    def _one(self, client: openai.OpenAI, conversation: list[Message], config: GenerationConfig,
             answered: threading.Event | None = None) -> Generation:
        try:
            response = self._create(client, conversation, config)
            return _parse(response, config)
        except (openai.OpenAIError, ValueError) as exc:  # ValueError: a body that is not JSON
            error = describe_error(exc, self.url, config.timeout)
            if _retried(exc) and config.max_retries:
                error += f" (after {config.max_retries} {'retry' if config.max_retries == 1 else 'retries'})"
            return Generation("", error=error)
        finally:
            if answered is not None:
                answered.set()

    def _create(self, client: openai.OpenAI, conversation: list[Message], config: GenerationConfig):
        """One chat completion; refused connections and 5xx/429 answers are retried, timeouts are not."""
        for attempt in range(config.max_retries + 1):
            kwargs = self.request(conversation, config, extras=self._send_extras)
            try:
                try:
                    return client.chat.completions.create(**kwargs)
                except openai.APIStatusError as exc:
                    if "extra_body" not in kwargs or exc.status_code not in _EXTRAS_REJECTED:
                        raise
                    response = client.chat.completions.create(**self.request(conversation, config, False))
                    self._extras_rejected(exc)
                    return response
            except openai.OpenAIError as exc:
                if not _retried(exc) or attempt == config.max_retries:
                    raise
                time.sleep(min(0.5 * 2 ** attempt, 8.0))
        raise AssertionError("unreachable")

    def _extras_rejected(self, exc: openai.APIStatusError) -> None:
        with self._lock:
            if self._send_extras:
                self._send_extras = False
                log.warning("%s rejected top_k/repetition_penalty/bad_words (%s): sending requests without them",
                            self.url, describe_error(exc))


def _timeout(config: GenerationConfig):
    import httpx

    return httpx.Timeout(config.timeout, connect=min(config.connect_timeout, config.timeout))


def _retried(exc: Exception) -> bool:
    """Worth another try: a refused or dropped connection, a server error, rate limiting; never a timeout."""
    if isinstance(exc, openai.APITimeoutError):
        return False
    return isinstance(exc, (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError))


def _parse(response, config: GenerationConfig) -> Generation:
    try:
        choices = response.choices
        if not choices:
            return Generation("", error="the server answered with no choices")
        text = choices[0].message.content or ""
    except (AttributeError, TypeError, IndexError):
        return Generation("", error=f"the server's answer is not a chat completion: {_short(str(response))}")
    usage = getattr(response, "usage", None)
    return Generation(strip_banned(text, config.banned_strings).strip(),
                      prompt_tokens=getattr(usage, "prompt_tokens", None),
                      completion_tokens=getattr(usage, "completion_tokens", None))


def describe_error(exc: Exception, url: str | None = None, timeout: float | None = None) -> str:
    """One line for a failed request: what happened, and the fix where there is an obvious one.

    Example:
        >>> describe_error(ValueError("Expecting value: line 1 column 1 (char 0)"))
        'malformed JSON in the answer: Expecting value: line 1 column 1 (char 0)'
    """
    where = f" from {url}" if url else ""
    if isinstance(exc, openai.APITimeoutError):
        within = f"{timeout:g} s" if timeout else "the timeout"
        return f"no answer{where} within {within}: raise generation.timeout or lower generation.concurrency"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        return f"connection failed{where}: {_short(str(cause) if cause else str(exc))}"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}{where}: {_short(_status_detail(exc))}"
    if isinstance(exc, openai.APIResponseValidationError):
        return f"unexpected answer{where}: {_short(str(exc))}"
    if isinstance(exc, ValueError):
        return f"malformed JSON in the answer{where}: {_short(str(exc))}"
    return f"{type(exc).__name__}{where}: {_short(str(exc))}"


def _status_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body.get("detail", body))
        if isinstance(inner, dict):
            inner = inner.get("message", inner)
        return str(inner)
    try:
        return exc.response.text or exc.message
    except Exception:  # the body was streamed or is unreadable
        return exc.message


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1] + "…"
