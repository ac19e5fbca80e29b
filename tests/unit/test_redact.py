from shipyard.domain.redact import hide_passwords


def test_passwords_in_urls_are_hidden_wherever_they_sit() -> None:
    spec = {
        "environment_variables": {
            "SHIPYARD_BATCH_CONFIG": '{"output": {"sql_url": "postgresql+psycopg://bob:s3cr%40t@db:5432/x"}}'
        },
        "command": ["python", "-m", "x", "--to", "mysql://root:hunter2@127.0.0.1/db"],
        "n": 3,
    }
    shown = hide_passwords(spec)
    text = str(shown)
    assert "s3cr" not in text and "hunter2" not in text
    assert "postgresql+psycopg://bob:***@db:5432/x" in text
    assert "mysql://root:***@127.0.0.1/db" in text
    assert shown["n"] == 3
    # No password: nothing changes.
    assert (
        hide_passwords("sqlite:////tmp/x.db and http://host:8080/path")
        == "sqlite:////tmp/x.db and http://host:8080/path"
    )
