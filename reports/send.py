"""Emailing a built report through Airflow's SMTP provider and the Connection
`smtp_default` (outside Airflow: AIRFLOW_CONN_SMTP_DEFAULT, e.g. smtp://127.0.0.1:8025),
then keeping it, with a record of the sending, in a dated folder."""
from __future__ import annotations

import html
import json
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from reports.build import ReportError

CONN_ID = "smtp_default"
DEFAULT_SENDER = "tagwatch@localhost"
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_recipients(addresses) -> list[str]:
    found = [a.strip() for a in addresses or [] if a and a.strip()]
    if not found:
        raise ReportError("nobody to send the report to: give --to ADDRESS or set TAGWATCH_REPORT_TO")
    bad = [a for a in found if not _ADDRESS.match(a)]
    if bad:
        raise ReportError(f"not an email address: {', '.join(bad)}")
    return found


def check_connection() -> None:
    """Refuse before anything is built or written when the connection is not defined."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    try:
        SmtpHook.get_connection(CONN_ID)
    except Exception as exc:  # not defined, or Airflow's metadata database unreadable
        raise ReportError(
            f"no SMTP connection {CONN_ID!r} to send the report through ({exc}): set "
            "AIRFLOW_CONN_SMTP_DEFAULT (e.g. smtp://USER:PASSWORD@smtp.example.org:587) or add "
            f"the connection {CONN_ID} in Airflow; nothing was written") from None


def _hook():
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class ReportSmtpHook(SmtpHook):
        """The provider's hook; on a loopback host with no TLS settings in the connection it
        speaks plain SMTP (nothing leaves the machine, and local test servers have no TLS)."""

        def _local_default(self, key: str) -> bool | None:
            if key not in self.conn.extra_dejson and self.host in _LOOPBACK:
                return False
            return None

        @property
        def use_ssl(self) -> bool:
            local = self._local_default("disable_ssl")
            return super().use_ssl if local is None else local

        @property
        def smtp_starttls(self) -> bool:
            local = self._local_default("disable_tls")
            return super().smtp_starttls if local is None else local

    return ReportSmtpHook(smtp_conn_id=CONN_ID)


def send(folder: Path, recipients, sender: str | None = None) -> dict:
    """Email the report in `folder`: email.html as the body, the PDF, the CSVs and the charts
    (shown inline by the body) attached. Writes sent.json beside them."""
    folder = Path(folder)
    to = check_recipients(recipients)
    body = (folder / "email.html").read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", body, re.S)
    subject = html.unescape(title.group(1).strip()) if title else "tagwatch report"
    files = [folder / "report.pdf", *sorted(folder.glob("*.csv")), *sorted((folder / "charts").glob("*.png"))]
    hook = _hook()
    try:
        with hook as smtp:
            smtp.send_email_smtp(to=to, subject=subject, html_content=body, files=[str(f) for f in files],
                                 from_email=sender or smtp.from_email or DEFAULT_SENDER)
    except Exception as exc:  # the provider raises AirflowException, smtplib and socket errors
        raise ReportError(f"could not send the report through the Airflow connection {CONN_ID!r}: {exc}") from exc
    record = {"sent_at": datetime.now(timezone.utc).isoformat(), "to": to, "subject": subject,
              "attachments": [f.name for f in files]}
    (folder / "sent.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return record


def keep(folder: Path, archive: Path) -> Path:
    """Copy a report folder into the archive (when it was built elsewhere); returns where it is kept."""
    folder, archive = Path(folder).resolve(), Path(archive).resolve()
    if folder == archive:
        return folder
    shutil.copytree(folder, archive)
    return archive


def send_message(to, subject: str, html_body: str, sender: str | None = None) -> None:
    """One HTML email (e.g. a school's digest) through the same connection as the reports."""
    to = check_recipients(to)
    hook = _hook()
    try:
        with hook as smtp:
            smtp.send_email_smtp(to=to, subject=subject, html_content=html_body,
                                 from_email=sender or smtp.from_email or DEFAULT_SENDER)
    except Exception as exc:  # the provider raises AirflowException, smtplib and socket errors
        raise ReportError(f"could not send email through the Airflow connection {CONN_ID!r}: {exc}") from exc
