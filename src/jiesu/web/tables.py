from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table


class Attachment(Table, tablename="jiesu_attachment"):
    """A photo attached to a case. The file lives under var/uploads with a random name."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    case_id = Integer(index=True)
    stored_name = Varchar(length=64, unique=True)  # random hex + extension; never the user's name
    content_type = Varchar(length=32)
    size = Integer()
    uploaded_by = Varchar(length=64)
    created_at = Timestamptz()
