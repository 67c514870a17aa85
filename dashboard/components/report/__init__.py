"""The reporting pages' parts: the summary, the postmortem and the SLOs, as readers see them.

    data.py        cached reads, keyed on the telemetry files and the incident record's versions
    cards.py       one open incident in big numbers, for executives
    history.py     incident history: medians and per-incident times
    slos.py        SLO status, budget left, burn alerts, offers to open an incident
    burn.py        burn-rate charts
    postmortem.py  the postmortem's generated parts
    sections.py    the postmortem's editable prose
    actions.py     action items tracked to done
    printing.py    the print stylesheet
"""
