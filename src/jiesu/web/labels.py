"""Words the pages show for the workflow's codes (states, actions, fields, outcomes), as catalogue ids.

Codes that are not listed here (an action another part of jiesu adds later) are shown as they are.
"""

from __future__ import annotations

from jiesu.web.i18n import N_
from jiesu.workflow import STATES as CASE

STATES = {
    CASE.intake: N_("Received"),
    CASE.triage: N_("Being routed"),
    CASE.mediation: N_("Being handled"),
    CASE.resolution: N_("Result under review"),
    CASE.feedback: N_("Waiting for your rating"),
    CASE.closed: N_("Closed"),
}

KINDS = {
    "complaint": N_("Complaint"),
    "dispute": N_("Dispute between people"),
    "request": N_("Request for help"),
    "suggestion": N_("Suggestion"),
}

PRIORITIES = {"normal": N_("Normal"), "urgent": N_("Urgent")}

ACTIONS = {
    "accept": N_("Accept"),
    "dispatch": N_("Assign to a worker"),
    "claim": N_("Take this case"),
    "contact": N_("Record a contact"),
    "reassign": N_("Hand over to another worker"),
    "escalate": N_("Escalate"),
    "extend": N_("Extend the deadline"),
    "resolve": N_("Record the result"),
    "approve": N_("Approve the result"),
    "send_back": N_("Send back"),
    "rate": N_("Rate the result"),
    "reject": N_("Reject"),
    "transfer": N_("Transfer"),
    "merge": N_("Merge into another case"),
    "withdraw": N_("Withdraw my case"),
    "add_info": N_("Add information"),
    "refer": N_("Refer to court, arbitration or an authority"),
    "reopen_mediation": N_("Reopen mediation"),
    "record_performance": N_("Record that the agreement was carried out"),
    "return_order": N_("Give the case back for routing"),
}

FIELDS = {
    "category": N_("Category"),
    "jurisdiction_code": N_("Community or street"),
    "assignee": N_("Worker's user name"),
    "note": N_("Note"),
    "reason": N_("Reason"),
    "level": N_("Escalate to"),
    "department": N_("Or a department"),
    "until": N_("New deadline"),
    "outcome": N_("Outcome"),
    "summary": N_("Summary of the result"),
    "resolved": N_("Was your problem resolved?"),
    "satisfaction": N_("How satisfied are you? (1 = not at all, 5 = very)"),
    "comment": N_("Comment"),
    "into": N_("Number of the case to merge into"),
    "referred_to": N_("Referred to"),
    "to": N_("Refer to"),
    "remedies": N_("Remedies"),
}

CHOICES = {
    "street": N_("Street office"),
    "district": N_("District"),
    "agreement": N_("Resolved with an agreement"),
    "resolved": N_("Resolved"),
    "referred": N_("Referred to court or arbitration"),
    "withdrawn": N_("Withdrawn"),
    "rejected": N_("Rejected"),
    "merged": N_("Merged"),
    "agreement_performed": N_("Agreement carried out"),
    "agreement_pending": N_("Agreement reached, being carried out"),
    "partly_resolved": N_("Partly resolved"),
    "failed_referred": N_("Mediation failed, referred on"),
    "court": N_("Court"),
    "arbitration": N_("Arbitration"),
    "administrative": N_("An administrative authority"),
}

# The timeline: one plain sentence per event.
EVENTS = {
    "file": N_("The case was received."),
    "accept": N_("Accepted and sent to %(place)s."),
    "dispatch": N_("Assigned to %(who)s."),
    "claim": N_("%(who)s is handling it."),
    "contact": N_("The handler contacted the parties."),
    "reassign": N_("Handed over to %(who)s."),
    "escalate": N_("Escalated for more help."),
    "extend": N_("The deadline was extended to %(until)s."),
    "resolve": N_("A result was recorded."),
    "approve": N_("The result was approved; your rating is asked for."),
    "send_back": N_("The result was sent back for more work."),
    "rate": N_("Rated %(stars)s of 5."),
    "close_unrated": N_("Closed without a rating."),
    "reject": N_("Not accepted."),
    "transfer": N_("Transferred to %(place)s."),
    "merge": N_("Merged into another case."),
    "withdraw": N_("Withdrawn."),
    "add_info": N_("More information was added."),
    "refer": N_("Referred on for a decision."),
    "reopen_mediation": N_("Mediation was reopened."),
    "record_performance": N_("The agreement was checked and carried out."),
    "return_order": N_("The handler gave the case back for routing."),
    "sla_escalate": N_("A deadline passed: escalated automatically."),
    "party_add": N_("A party was added to the mediation."),
    "party_consent": N_("A party's answer to mediation was recorded."),
    "mediation_start": N_("Mediation started."),
    "mediation_extend": N_("The mediation time was extended."),
    "mediator_add": N_("A mediator joined."),
    "mediator_recusal": N_("A party objected to a mediator."),
    "session_schedule": N_("A mediation session was planned."),
    "session_postpone": N_("A mediation session was postponed."),
    "session_hold": N_("A mediation session was held."),
    "agreement_draft": N_("The mediation agreement was written down."),
    "agreement_sign": N_("A party signed the agreement."),
    "agreement_freeze": N_("Every party signed the agreement."),
    "judicial_confirmation": N_("The parties applied to the court for judicial confirmation."),
    "performance_check": N_("Checked whether the agreement is kept."),
}

LEVELS = {
    "district": N_("District"),
    "street": N_("Street"),
    "community": N_("Community"),
    "grid": N_("Grid"),
    "none": N_("Not yet routed"),
    "department": N_("Department"),
}

CHANNELS = {
    "web": N_("Web page or app"),
    "hotline": N_("Hotline"),
    "anonymous": N_("Web page, without an account"),
}

# Deadline extensions that need approval (src/jiesu/sla/extensions.py).
ACTIONS.update(
    {
        "request_extension": N_("Ask for more time"),
        "approve_extension": N_("Approve the extension"),
        "deny_extension": N_("Refuse the extension"),
    }
)
EVENTS.update(
    {
        "request_extension": N_("The handler asked for more time, until %(until)s."),
        "approve_extension": N_("The deadline was extended to %(until)s."),
        "deny_extension": N_("The request for more time was refused."),
    }
)
