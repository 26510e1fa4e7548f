"""finishing the contest: freeze, disqualifications, awards, draws, objections, certificates

Revision ID: a16a00000007
Revises: f15c00000006
Create Date: 2026-12-01 12:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a16a00000007'
down_revision = 'f15c00000006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("contests", sa.Column("freeze_at", sa.DateTime(), nullable=True))
    op.add_column("contests", sa.Column("unfrozen_at", sa.DateTime(), nullable=True))
    op.add_column("contests", sa.Column("organizer", sa.String(200), nullable=False, server_default=""))
    op.add_column("contests", sa.Column("awards", sa.JSON(), nullable=True))
    op.add_column("contests", sa.Column("objection_days", sa.Integer(), nullable=False, server_default=sa.text("5")))
    op.add_column("contests", sa.Column("certificate_min_score", sa.Integer(), nullable=True))
    op.add_column("contests", sa.Column("awards_assigned_at", sa.DateTime(), nullable=True))
    op.add_column("contests", sa.Column("awards_published_at", sa.DateTime(), nullable=True))
    op.create_table(
        "disqualifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(60), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(60), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_disqualifications_user_id", "disqualifications", ["user_id"])
    op.create_index("one_disqualification", "disqualifications", ["contest_id", "user_id"], unique=True,
                    postgresql_where=sa.text("lifted_at IS NULL"))
    op.create_table(
        "awards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("tier", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("claim_status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("claim_note", sa.Text(), nullable=False, server_default=""),
        sa.Column("claim_updated_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("contest_id", "user_id"),
    )
    op.create_index("ix_awards_contest_id", "awards", ["contest_id"])
    op.create_table(
        "award_draws",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id"), nullable=False),
        sa.Column("tier", sa.String(60), nullable=False),
        sa.Column("seed", sa.Text(), nullable=False),
        sa.Column("eligible_count", sa.Integer(), nullable=False),
        sa.Column("eligible_sha256", sa.String(64), nullable=False),
        sa.Column("winners", sa.JSON(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("contest_id", "tier"),
    )
    op.create_table(
        "objections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("about", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by", sa.String(60), nullable=True),
    )
    op.create_index("ix_objections_contest_id", "objections", ["contest_id"])
    op.create_index("ix_objections_user_id", "objections", ["user_id"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("prize", sa.String(60), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("contest_id", "user_id", "kind"),
    )


def downgrade():
    op.drop_table("certificates")
    op.drop_index("ix_objections_user_id", table_name="objections")
    op.drop_index("ix_objections_contest_id", table_name="objections")
    op.drop_table("objections")
    op.drop_table("award_draws")
    op.drop_index("ix_awards_contest_id", table_name="awards")
    op.drop_table("awards")
    op.drop_index("one_disqualification", table_name="disqualifications")
    op.drop_index("ix_disqualifications_user_id", table_name="disqualifications")
    op.drop_table("disqualifications")
    for column in ("awards_published_at", "awards_assigned_at", "certificate_min_score", "objection_days",
                   "awards", "organizer", "unfrozen_at", "freeze_at"):
        op.drop_column("contests", column)
