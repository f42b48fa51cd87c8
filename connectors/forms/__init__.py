"""Legacy web forms: the old form database (``sql_table``) and a drop-in form endpoint
(``form_http``), with write-back into the old tables so the PHP pages show real progress.

Configuration (``[[sources]]`` blocks; every option is checked by ``options.py``)::

    [[sources]]
    name = "form-pupr"
    kind = "sql_table"
    batch_size = 500                    # rows per page (watermark on id_column)
    sunset = false                      # true: every new complaint is told LAPOR! replaces this
    [sources.options]
    url = "mysql://pengaduan_ro:…@10.0.0.5:3306/ukk_pengaduan"   # or postgresql://…
    charset = "latin1"                  # the TABLES' charset: bytes then arrive unconverted
    query = '''SELECT p.id_pengaduan, p.tgl_pengaduan, p.nik, p.isi_laporan, p.foto, p.status,
               m.nama, m.telp, m.nik AS m_nik
               FROM pengaduan p LEFT JOIN masyarakat m ON m.nik = p.nik'''  # or: table = "…"
    id_column = "id_pengaduan"
    timezone = "Asia/Jakarta"
    date_formats = ["%Y-%m-%d", "%d/%m/%Y"]
    [sources.options.fields]            # our field = their column
    content = "isi_laporan"
    submitted_at = "tgl_pengaduan"
    status = "status"
    photo = "foto"
    name = "nama"
    phone = "telp"
    nik = "nik"
    orphan_check = "m_nik"              # NULL → the complaint's masyarakat row is missing
    [sources.options.status_map]        # their value = our status
    "0" = "received"
    proses = "diproses"
    selesai = "selesai"
    [sources.options.photo]
    base_dir = "/var/www/pengaduan/foto"   # or url_base = "https://pengaduan.example/foto/"
    [sources.options.rescan]            # no updated_at: open rows are re-read periodically
    interval_s = 900
    open_statuses = ["0", "", "proses"]
    [sources.options.write_back]        # needs INSERT/UPDATE; off = a read-only user is enough
    enabled = true
    tracking_column = "lapor_tracking_id"  # a column the agency added; else a tanggapan row
    staff_id = 99                       # id_petugas on our rows (not reported back as news)
    [sources.options.backfill]          # `satukanal backfill form-pupr`
    push_if_open_newer_than_days = 90   # older or closed complaints are kept as history
    push_closed = false

    [[sources]]
    name = "web-pupr"
    kind = "form_http"                  # POST /intake/web-pupr/ ; status pages at /status/<code>
    [sources.options.fields]            # our field = the old form's input name
    content = "isi_laporan"
    name = "nama"
    phone = "telp"

How the parts plug into the core (all through the toolkit's protocols, see
``connectors/base``): ``SqlTableSource`` pulls, backfills, answers through ``FormDbSink`` (a
``tanggapan`` row: acknowledgements and *sunset* notices reach users of the old PHP pages)
and, with write-back on, offers a ``writer()`` whose ``mirror`` the core's ``write_back`` job
calls with the complaint's state (``aggregator/notify/writeback.py``). ``FormHttpSource`` is
push only: its ``routes()`` are mounted under ``/intake/<source>`` and it issues the receipt
codes of the core's status page (``/status/<code>``, ``aggregator/web/status.py``).
"""
