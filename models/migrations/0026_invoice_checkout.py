from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AuditAction, NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0025_ledger_by_date')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AuditLog',
            name='action',
            field=fields.CharEnumField(description='ASSIGNMENT_BRIEFING_READ: assignment.briefing_read\nASSIGNMENT_CANCELLED: assignment.cancelled\nASSIGNMENT_CONFIRMED: assignment.confirmed\nASSIGNMENT_DECLINED: assignment.declined\nASSIGNMENT_INVITED: assignment.invited\nASSIGNMENT_REASON: assignment.reason\nASSIGNMENT_REINVITED: assignment.reinvited\nEVENT_BRIEFED: event.briefed\nEVENT_DOCUMENT_ADDED: event.document_added\nEVENT_DOCUMENT_REMOVED: event.document_removed\nEVENT_CANCELLED: event.cancelled\nEVENT_COMPLETED: event.completed\nEVENT_CREATED: event.created\nEVENT_EDITED: event.edited\nEVENT_REMINDED: event.reminded\nINVOICE_CREATED: invoice.created\nINVOICE_PAID: invoice.paid\nCHECKOUT_RELINKED: checkout.relinked\nLEDGER_CHARGE: ledger.charge\nLEDGER_UNCHARGE: ledger.uncharge\nLEDGER_RECORDED: ledger.recorded\nLEDGER_UNRECORDED: ledger.unrecorded\nOUTBOX_RESENT: outbox.resent\nPAYMENT_CANCELLED: payment.cancelled\nPAYMENT_COMPLETED: payment.completed\nPAYMENT_FAILED: payment.failed\nPAYMENT_FLAG_RESOLVED: payment.flag_resolved\nPAYMENT_INITIATED: payment.initiated\nPAYMENT_PENDING: payment.pending\nPAYMENT_RECEIPT: payment.receipt\nPAYMENT_REQUESTED: payment.requested\nPAYMENT_TIMEOUT: payment.timeout\nPAYMENT_UNKNOWN: payment.unknown\nPAYMENT_BATCH_RESEND: payment_batch.resend\nPAYMENT_BATCH_SEND_ANYWAY: payment_batch.send_anyway\nPAYMENT_BATCH_STARTED: payment_batch.started\nPAYROLL_APPROVED: payroll.approved\nPAYROLL_BUILT: payroll.built\nPAYROLL_LINE_CHANGED: payroll.line_changed\nPAYROLL_REOPENED: payroll.reopened\nPAYROLL_SUBMITTED: payroll.submitted\nPAYROLL_SUPERSEDED: payroll.superseded\nPAYROLL_PAY_STARTED: payroll.pay_started\nPAYROLL_STOPPED: payroll.stopped\nPAYROLL_PAID: payroll.paid\nPAYOUT_PAID: payout.paid\nPAYOUT_FAILED: payout.failed\nPAYOUT_UNKNOWN: payout.unknown\nPERSON_ACCESS_CHANGED: person.access_changed\nPERSON_ADDED: person.added\nPERSON_CHAT_REACHABLE: person.chat_reachable\nPERSON_CHAT_UNREACHABLE: person.chat_unreachable\nPERSON_DEACTIVATED: person.deactivated\nPERSON_EDITED: person.edited\nPERSON_LINK_ISSUED: person.link_issued\nPERSON_LINK_REFUSED: person.link_refused\nPERSON', enum_type=AuditAction, max_length=60),
        ),
        ops.AddField(
            model_name='Deposit',
            name='invoice',
            field=fields.OneToOneField('models.Invoice', source_field='invoice_id', null=True, db_constraint=True, to_field='id', related_name='checkout', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nRECONCILIATION_ALERT: reconciliation_alert\nPAYMENT_RECORDED: payment_recorded\nPAYMENT_UNRECORDED: payment_unrecorded\nINVOICE: invoice\nINVOICE_PAID: invoice_paid\nREFUND: refund\nREFUND_APPROVAL: refund_approval\nREFUND_NOTICE: refund_notice\nREFUND_OUTCOME: refund_outcome\nWEBHOOK_DISABLED: webhook_disabled\nCREW_OFF: crew_off\nBROADCAST: broadcast\nBACKUP_OFFER: backup_offer\nDEPOSIT: deposit', enum_type=NotificationKind, max_length=40),
        ),
    ]
