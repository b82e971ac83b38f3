//! E0401 (branch track allocation), E0402 (blank numbers), E0501 (seller allocation).

use super::ctx::Ctx;
use crate::ids::{Track, Ubn};
use crate::model::{BranchTrack, BranchTrackBlank, InvoiceAssignNo};
use crate::period::Period;
use crate::validated::{BlankFacts, TrackRangeFacts};

/// Numbers come in booklets of 50.
const BOOKLET: u32 = 50;

fn ubn(cx: &mut Ctx, field: &str, s: &str) -> Option<Ubn> {
    cx.required(field, s, 10)?;
    let r = Ubn::parse_with(s, &cx.rules.ids);
    cx.parse(field, r)
}

fn period(cx: &mut Ctx, field: &str, s: &str) -> Option<Period> {
    cx.required(field, s, 5)?;
    cx.parse(field, Period::parse(s))
}

fn track(cx: &mut Ctx, field: &str, s: &str) -> Option<Track> {
    cx.required(field, s, 2)?;
    cx.parse(field, Track::parse(s))
}

fn number(cx: &mut Ctx, field: &str, s: &str) -> Option<u32> {
    cx.required(field, s, 8)?;
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        cx.push(
            "NUMBER_FORMAT",
            field,
            format!("invoice numbers within a track are 8 digits, got {s:?}"),
        );
        return None;
    }
    s.parse().ok()
}

fn range(cx: &mut Ctx, at: &str, b: &str, e: &str, booklets: bool) -> Option<(u32, u32)> {
    let begin = number(cx, &format!("{at}InvoiceBeginNo"), b)?;
    let end = number(cx, &format!("{at}InvoiceEndNo"), e)?;
    if begin > end {
        cx.push(
            "RANGE_ORDER",
            &format!("{at}InvoiceEndNo"),
            format!("InvoiceEndNo {e} is before InvoiceBeginNo {b}"),
        );
        return None;
    }
    if booklets && (begin % BOOKLET != 0 || (end + 1) % BOOKLET != 0) {
        cx.push(
            "RANGE_BOOKLET",
            &format!("{at}InvoiceBeginNo"),
            format!("allocations are whole booklets of {BOOKLET}: begin at a multiple of {BOOKLET} (…00 or …50) and end just before one (…49 or …99); got {b}–{e}"),
        );
    }
    Some((begin, end))
}

fn no_overlap(cx: &mut Ctx, field: &str, ranges: &[(u32, u32)]) {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    for w in sorted.windows(2) {
        if w[1].0 <= w[0].1 {
            cx.push(
                "RANGE_OVERLAP",
                field,
                format!(
                    "ranges {:08}–{:08} and {:08}–{:08} overlap",
                    w[0].0, w[0].1, w[1].0, w[1].1
                ),
            );
        }
    }
}

/// E0401.
pub(super) fn branch_track(cx: &mut Ctx, t: &BranchTrack) -> Option<TrackRangeFacts> {
    let m = &t.main;
    let head = ubn(cx, "Main/HeadBan", &m.head_ban);
    let branch = ubn(cx, "Main/BranchBan", &m.branch_ban);
    let invoice_type = cx.one_of("Main/InvoiceType", &m.invoice_type, &["07", "08"]);
    let p = period(cx, "Main/YearMonth", &m.year_month);
    let tr = track(cx, "Main/InvoiceTrack", &m.invoice_track);
    let main = range(cx, "Main/", &m.invoice_begin_no, &m.invoice_end_no, true);
    if t.details.is_empty() {
        cx.push(
            "ITEMS_REQUIRED",
            "Details",
            "an E0401 lists at least one BranchTrackItem",
        );
    }
    let mut items = Vec::new();
    for (i, it) in t.details.iter().enumerate() {
        let at = format!("Details/BranchTrackItem[{}]/", i + 1);
        let r = range(cx, &at, &it.invoice_begin_no, &it.invoice_end_no, true);
        let booklets = if cx
            .required(&format!("{at}InvoiceBooklet"), &it.invoice_booklet, 5)
            .is_some()
        {
            match it.invoice_booklet.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    cx.push(
                        "NUMBER_FORMAT",
                        &format!("{at}InvoiceBooklet"),
                        format!(
                            "InvoiceBooklet is a whole number, got {:?}",
                            it.invoice_booklet
                        ),
                    );
                    None
                }
            }
        } else {
            None
        };
        if let (Some((b, e)), Some(n)) = (r, booklets) {
            let want = (e - b + 1) / BOOKLET;
            if n != want {
                cx.push(
                    "BOOKLET_COUNT_MISMATCH",
                    &format!("{at}InvoiceBooklet"),
                    format!(
                        "InvoiceBooklet is {n} but {:08}–{:08} holds {want} booklets of {BOOKLET}",
                        b, e
                    ),
                );
            }
            if let Some((mb, me)) = main
                && (b < mb || e > me)
            {
                cx.push(
                    "RANGE_OUTSIDE",
                    &format!("{at}InvoiceBeginNo"),
                    format!("{b:08}–{e:08} is outside the track's range {mb:08}–{me:08}"),
                );
            }
            items.push((b, e, n));
        }
    }
    let spans: Vec<(u32, u32)> = items.iter().map(|(b, e, _)| (*b, *e)).collect();
    no_overlap(cx, "Details", &spans);
    if !cx.ok() {
        return None;
    }
    let (begin, end) = main?;
    Some(TrackRangeFacts {
        seller: branch?,
        head: head?,
        invoice_type: invoice_type?.to_string(),
        period: p?,
        track: tr?,
        begin,
        end,
        items,
    })
}

/// E0402.
pub(super) fn blank(cx: &mut Ctx, b: &BranchTrackBlank) -> Option<BlankFacts> {
    let m = &b.main;
    let head = ubn(cx, "Main/HeadBan", &m.head_ban);
    let branch = ubn(cx, "Main/BranchBan", &m.branch_ban);
    let invoice_type = cx.one_of("Main/InvoiceType", &m.invoice_type, &["07", "08"]);
    let p = period(cx, "Main/YearMonth", &m.year_month);
    let tr = track(cx, "Main/InvoiceTrack", &m.invoice_track);
    if b.details.is_empty() {
        cx.push(
            "ITEMS_REQUIRED",
            "Details",
            "an E0402 lists at least one blank range",
        );
    }
    let mut ranges = Vec::new();
    for (i, it) in b.details.iter().enumerate() {
        let at = format!("Details/BranchTrackBlankItem[{}]/", i + 1);
        if let Some(r) = range(cx, &at, &it.invoice_begin_no, &it.invoice_end_no, false) {
            ranges.push(r);
        }
    }
    no_overlap(cx, "Details", &ranges);
    if !cx.ok() {
        return None;
    }
    ranges.sort_unstable();
    Some(BlankFacts {
        seller: branch?,
        head: head?,
        invoice_type: invoice_type?.to_string(),
        period: p?,
        track: tr?,
        ranges,
    })
}

/// E0501.
pub(super) fn assign(cx: &mut Ctx, a: &InvoiceAssignNo) -> Option<TrackRangeFacts> {
    let seller = ubn(cx, "Ban", &a.ban);
    let invoice_type = cx.one_of("InvoiceType", &a.invoice_type, &["07", "08"]);
    let p = period(cx, "YearMonth", &a.year_month);
    let tr = track(cx, "InvoiceTrack", &a.invoice_track);
    let r = range(cx, "", &a.invoice_begin_no, &a.invoice_end_no, true);
    let booklets = match a.invoice_booklet.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            cx.push(
                "NUMBER_FORMAT",
                "InvoiceBooklet",
                format!(
                    "InvoiceBooklet is a whole number, got {:?}",
                    a.invoice_booklet
                ),
            );
            None
        }
    };
    if let (Some((b, e)), Some(n)) = (r, booklets)
        && n != (e - b + 1) / BOOKLET
    {
        cx.push(
            "BOOKLET_COUNT_MISMATCH",
            "InvoiceBooklet",
            format!(
                "InvoiceBooklet is {n} but the range holds {} booklets",
                (e - b + 1) / BOOKLET
            ),
        );
    }
    if !cx.ok() {
        return None;
    }
    let (begin, end) = r?;
    let s = seller?;
    Some(TrackRangeFacts {
        seller: s,
        head: s,
        invoice_type: invoice_type?.to_string(),
        period: p?,
        track: tr?,
        begin,
        end,
        items: vec![(begin, end, booklets?)],
    })
}
