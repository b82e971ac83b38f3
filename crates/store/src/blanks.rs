//! Blank ranges (the content of an E0402 blank report), once: the unused
//! numbers of an allocation, computed from the numbers actually issued.

use crate::records::{BlankRange, TrackAllocation};

impl TrackAllocation {
    /// The first and last invoice numbers of the allocation as stored
    /// (`AB00000000`, `AB00000999`): the bounds of the issued-numbers query.
    pub fn number_bounds(&self) -> (String, String) {
        (
            format!("{}{:08}", self.track, self.begin),
            format!("{}{:08}", self.track, self.end),
        )
    }

    /// The blank ranges of this allocation, given the numbers issued in it
    /// (8-digit parts, ascending): every maximal run of unused numbers.
    pub fn blanks(&self, issued: impl IntoIterator<Item = u32>) -> Vec<BlankRange> {
        let range = |begin: u32, end: u32| BlankRange {
            seller: self.seller,
            period: self.period,
            track: self.track,
            begin,
            end,
        };
        let mut out = Vec::new();
        let mut next = self.begin;
        for n in issued {
            if n > next {
                out.push(range(next, n - 1));
            }
            next = n.saturating_add(1);
        }
        if next <= self.end {
            out.push(range(next, self.end));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use einvoice_core::{Period, Track, Ubn};

    fn allocation() -> crate::TrackAllocation {
        crate::TrackAllocation {
            seller: Ubn::parse("04595257").expect("ubn"),
            period: Period::new(114, 2).expect("period"),
            track: Track::parse("AB").expect("track"),
            begin: 0,
            end: 9,
        }
    }

    fn spans(v: Vec<crate::BlankRange>) -> Vec<(u32, u32)> {
        v.into_iter().map(|b| (b.begin, b.end)).collect()
    }

    #[test]
    fn blanks_are_the_runs_between_issued_numbers() {
        let a = allocation();
        assert_eq!(spans(a.blanks([])), vec![(0, 9)]);
        assert_eq!(spans(a.blanks([0, 1, 5, 9])), vec![(2, 4), (6, 8)]);
        assert_eq!(spans(a.blanks(0..=9)), vec![]);
        assert_eq!(
            a.number_bounds(),
            ("AB00000000".to_string(), "AB00000009".to_string())
        );
    }
}
