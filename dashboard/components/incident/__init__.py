"""The war room's parts: what one incident shows and the writes a responder makes on it.

    session.py       who is acting, and how a write lands (named, version-checked, nothing lost)
    header.py        severity, status moves, roles
    live.py          the data's clock, the comms countdown, the soak, the timeline
    comms.py         updates from the template, posted, and the comms log
    work.py          the playbook checklist and the action items
    verification.py  verification metrics and the soak-gated close
    correct.py       amending a wrong title, scope, signals or start
    new.py           opening an incident, prefilled from a finding
"""
