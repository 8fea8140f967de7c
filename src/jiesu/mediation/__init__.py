"""Mediation of disputes, in rooms that each own one part (``rooms.install_mediation`` builds them):

- ``parties``: the parties and their consent (mediation is voluntary for every applicant and respondent);
- ``panel``: people's mediators and invited helpers, and a party's objection (recusal);
- ``sessions``: the mediation clock (start, one extension) and the sessions with their reminders;
- ``agreements``: the written agreement, its signatures and its freeze;
- ``follow_up``: judicial confirmation, performance checks and the follow-ups due;
- ``overview``: reading it all (the summary of a case, the brief of a queue item);
- ``case_rules``: what the case's own actions need of mediation (an effect hook of CaseService).

``base`` holds what they share (who is asking, the case lock, refusals, the audit event). Mediation
imports cases and audit; neither imports mediation: its hooks are registered at start-up.
"""
