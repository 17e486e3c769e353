# One image for every leadflow service (Airflow components and the HubSpot sandbox).
FROM python:3.11-slim
WORKDIR /opt/leadflow
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir uv && uv pip install --system --no-cache -r requirements.lock
COPY . .
RUN uv pip install --system --no-deps -e .
ENV AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/leadflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
