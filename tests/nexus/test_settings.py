"""Settings come from the environment: embedded defaults for the demo, real services when given."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def production(tmp_path, **overrides) -> dict:
    """A complete production environment (PostgreSQL and Redis named, not connected to by `check`)."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": "x" * 20 + "a-real-looking-secret-key-with-enough-entropy-0123456789",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "nexus.example.com",
        "DATABASE_URL": "postgres://nexus@127.0.0.1:5432/nexus",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DATA_DIR": str(tmp_path),
        **overrides,
    }


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    """STATIC_ROOT after the README's collectstatic, as production serves it."""
    root = tmp_path_factory.mktemp("static")
    result = run_manage("collectstatic", "--noinput", **production(root.parent, STATIC_ROOT=str(root)))
    assert result.returncode == 0, result.stderr
    return root


def test_production_mode_passes_the_deploy_check(tmp_path, collected_static):
    env = production(tmp_path, STATIC_ROOT=str(collected_static))
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs DATABASE_URL and REDIS_URL to reach")
def test_a_production_process_starts_when_the_deploy_check_passes(tmp_path, collected_static):
    """What the web process and Celery run at start-up: it honours the checks settings silence (unlike run_checks)."""
    env = production(
        tmp_path,
        STATIC_ROOT=str(collected_static),
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
    )
    result = run_manage(
        "shell", "-c", "from nexus.checks import require_production_ready; require_production_ready()", **env
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "change, words",
    [
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        ({"REDIS_URL": ""}, "REDIS_URL is not set"),
        ({}, "No collected static files"),  # STATIC_ROOT left empty
    ],
)
def test_production_refuses_to_run_without_its_real_parts(tmp_path, change, words):
    result = run_manage("check", "--deploy", **production(tmp_path, **change))
    assert result.returncode != 0
    assert words in result.stderr


def test_production_collects_only_what_pages_load_under_hashed_names(collected_static):
    manifest = (collected_static / "staticfiles.json").read_text()
    assert '"css/nexus.css": "css/nexus.' in manifest  # a content hash in the name: cached for a year
    assert (collected_static / "novnc" / "core" / "rfb.js").is_file()
    assert (collected_static / "htmx" / "htmx.min.js").is_file()
    assert (collected_static / "css" / "nexus.css.gz").is_file(), "compressed copies for WhiteNoise"
    assert not (collected_static / "novnc" / "docs").exists()
    assert not (collected_static / "htmx" / "htmx.js").exists()


def test_an_env_file_others_may_read_is_warned_about(tmp_path, collected_static):
    env_file = tmp_path / "nexus.env"
    env_file.write_text("LOG_LEVEL=INFO\n")
    env_file.chmod(0o644)
    env = production(tmp_path, STATIC_ROOT=str(collected_static), ENV_FILE=str(env_file))
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0 and "others may read it" in result.stderr
    env_file.chmod(0o600)
    assert run_manage("check", "--deploy", "--fail-level", "WARNING", **env).returncode == 0


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ENCRYPTION_KEYS"])
def test_production_mode_refuses_to_start_without_its_secrets(tmp_path, missing):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "s" * 60,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "nexus.example.com",
        "DATA_DIR": str(tmp_path),
    }
    env[missing] = ""
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is false" in result.stderr
    assert not any(tmp_path.iterdir()), "production must not generate local secrets"


def test_the_demo_defaults_need_nothing_installed(tmp_path):
    result = run_manage("check", DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "encryption_keys").read_text().strip()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="DATABASE_URL not given: running on SQLite")
def test_the_tests_run_on_the_database_they_are_given():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not given: in-memory channel layer")
def test_redis_carries_the_channel_layer_and_celery():
    from nexus.celery import app

    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert app.conf.broker_url.startswith("redis://")
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)


def test_production_mode_refuses_to_start_without_allowed_hosts(tmp_path):
    result = run_manage(
        "check",
        DEBUG="false",
        SECRET_KEY="s" * 60,
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="",
        DATA_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set when DEBUG is false" in result.stderr


def test_an_encryption_key_list_that_is_no_key_list_refuses_to_start(tmp_path):
    result = run_manage(
        "check",
        DEBUG="false",
        SECRET_KEY="s" * 60,
        ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},not-a-key",
        ALLOWED_HOSTS="nexus.example.com",
        DATA_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "ENCRYPTION_KEYS must be comma-separated Fernet keys" in result.stderr


def test_denied_server_networks_that_are_no_address_ranges_refuse_to_start(tmp_path):
    result = run_manage("check", SERVER_DENIED_NETWORKS="127.0.0.0/8,loopback", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SERVER_DENIED_NETWORKS must be comma-separated address ranges" in result.stderr
    assert "'loopback'" in result.stderr


def test_the_demo_database_and_its_folder_are_the_owners_only(tmp_path):
    data = tmp_path / "data"
    result = run_manage("check", DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "nexus.sqlite3").stat().st_mode & 0o777 == 0o600
