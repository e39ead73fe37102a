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


def test_production_mode_passes_the_deploy_check(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="x" * 20 + "a-real-looking-secret-key-with-enough-entropy-0123456789",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="nexus.example.com",
        DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr


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


def test_the_demo_database_and_its_folder_are_the_owners_only(tmp_path):
    data = tmp_path / "data"
    result = run_manage("check", DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "nexus.sqlite3").stat().st_mode & 0o777 == 0o600
