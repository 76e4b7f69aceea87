"""One organisation's hourly Asana load as an Airflow DAG, on restpipe's exit-code contract.

Exit 0 succeeds; 75 (temporary) raises AirflowException, which Airflow retries with
backoff; 1 or 2 (retrying will not help) raise AirflowFailException, which fails the task
without retrying. `max_active_runs=1` keeps one run of this DAG at a time, and the pool
`asana_token_acme` (create it with 1 slot) keeps one run per token across every DAG that
uses the same token.
"""
from datetime import datetime, timedelta
import subprocess

from airflow import DAG
from airflow.exceptions import AirflowException, AirflowFailException
from airflow.operators.python import PythonOperator

TEMPORARY = {75, 143}


def load_acme() -> None:
    done = subprocess.run(
        [
            "restpipe", "run", "/opt/restpipe/pipelines/asana.yaml",
            "--destination", "postgres", "--dataset", "acme_asana",
            "--log-format", "json", "--summary-json", "/tmp/acme_summary.json",
        ],
        check=False,
    )
    if done.returncode == 0:
        return
    if done.returncode in TEMPORARY:
        raise AirflowException(f"restpipe exit {done.returncode}: temporary, retried")
    raise AirflowFailException(f"restpipe exit {done.returncode}: needs a person")


with DAG(
    dag_id="restpipe_asana_acme",
    schedule="0 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
) as dag:
    PythonOperator(
        task_id="load",
        python_callable=load_acme,
        pool="asana_token_acme",
        retries=5,
        retry_delay=timedelta(minutes=1),
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(hours=1),
    )
