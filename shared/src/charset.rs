//! The SEPA character set (EPC basic Latin: `a-z A-Z 0-9 / - ? : ( ) . , ' +` and space) and
//! the conversion of names and remittance text into it.
//!
//! Text is transliterated before its length is checked (Müller becomes Mueller, which is
//! longer). Identifiers are never transliterated: one outside the set is refused.
//!
//! # How text is converted
//!
//! In this order, character by character:
//!
//! 1. Characters of the set are kept as they are.
//! 2. German umlauts and ß as the German banks write them (DFÜ-Abkommen Anlage 3): `ä ö ü`
//!    become `ae oe ue`, `Ä Ö Ü` become `Ae Oe Ue` (`AE OE UE` inside a word written in
//!    capitals, so `MÜLLER` reads `MUELLER`), `ß` becomes `ss` and the capital `ẞ` `SS`. An
//!    umlaut typed as a vowel followed by a combining diaeresis (U+0308) is treated the same.
//! 3. ASCII punctuation outside the set, as the prose of EPC217-08 §6.2 suggests where it has
//!    a rule: `&` becomes `+` (one character that keeps the meaning: `Müller & Söhne` reads
//!    `Mueller + Soehne`, where a space would read `Mueller Soehne` and `and`/`und` would pick a
//!    language), `_` and `~` become `-`, `@` becomes `(at)`. Our own choices for the rest:
//!    double quotes and the backtick become `'`, `< [ {` become `(` and `> ] }` become `)`, `;`
//!    becomes `,`. Other ASCII punctuation (`! # $ % * = \ ^ |`) and every control or
//!    white-space character become a space.
//! 4. Pictographs (emoji, dingbats, arrows and other symbol blocks) become a space: a
//!    transliteration table spells them out as words (`grinning`), which has no place in a
//!    name on a bank statement.
//! 5. Everything else goes through the `deunicode` table (`é` to `e`, `Ł` to `L`, `Θ` to `Th`,
//!    `Щ` to `Shch`, `€` to `EUR`, `日本` to `Ri Ben`); whatever that gives outside the set is
//!    run through rule 3 once more, and what is still outside becomes a space.
//!
//! Then runs of spaces fold to one, the text is trimmed, and it is cut to the maximum length
//! (never leaving a trailing space). The `deunicode` table differs from the EPC217-08
//! conversion table in a few places (`Æ` gives `AE`, not `A`; Cyrillic follows a different
//! romanisation); banks check only the character set of the result, not the table used.

/// Whether a byte is a character of the SEPA set other than the space. Every byte of a UTF-8
/// text can be looked up directly: bytes from 128 up are parts of other characters.
const IN_SET: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 128 {
        let c = byte as u8;
        table[byte] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'/' | b'-' | b'?' | b':' | b'(' | b')' | b'.' | b',' | b'\'' | b'+'
            );
        byte += 1;
    }
    table
};

/// What a byte is in an identifier: [`IDENTIFIER_BYTE`] for the characters of the set and the
/// space, with [`SLASH`] as well for `/` (two in a row are refused); 0 for any other byte.
const IDENTIFIER_CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        if IN_SET[byte] || byte == b' ' as usize {
            table[byte] = IDENTIFIER_BYTE;
        }
        byte += 1;
    }
    table[b'/' as usize] |= SLASH;
    table
};
/// The bit of [`IDENTIFIER_CLASS`] for a byte an identifier may hold.
const IDENTIFIER_BYTE: u8 = 1;
/// The bit of [`IDENTIFIER_CLASS`] for `/`.
const SLASH: u8 = 2;

/// Whether `c` is in the SEPA set, the space excluded.
fn is_set_char(c: char) -> bool {
    (c as u32) < 128 && IN_SET[c as usize]
}

/// Converts free text (a name, an address line, remittance information) to the SEPA set and
/// cuts it to `max_chars` characters: German umlauts and ß as the German banks write them (ae,
/// oe, ue, ss), other letters through a transliteration table, anything left outside the set
/// becomes a space, runs of spaces fold to one, and the text is trimmed. `None` when nothing is
/// left.
///
/// The rules, including what happens to `&` (it becomes `+`), quotes and emoji, are listed in
/// the [module documentation](self). The result is always a fixed point: converting it again
/// with the same `max_chars` gives it back unchanged.
pub fn to_sepa_text(text: &str, max_chars: usize) -> Option<String> {
    let mut converted = String::new();
    convert_into(text, max_chars, &mut converted).then_some(converted)
}

/// Converts `text` like [`to_sepa_text`] into `out` (cleared first), reusing its allocation;
/// answers whether anything is left. The pain.008 writer converts every name this way, so a
/// batch of a million transactions needs no allocation per name.
pub(crate) fn convert_into(text: &str, max_chars: usize, out: &mut String) -> bool {
    out.clear();
    if max_chars == 0 {
        return false;
    }

    // Characters of the set, spaces and ä ö ü ß (all of most names and remittance texts)
    // never make the text longer, so a text within the maximum is converted without length
    // checks up to its first other character.
    let bytes = text.as_bytes();
    let mut position = 0;
    let mut pending_space = false;
    if bytes.len() <= max_chars {
        out.reserve(bytes.len());
        position = convert_plain_start(text, out, &mut pending_space);
    }

    let mut sink = Sink {
        out,
        max_chars,
        pending_space,
        full: false,
    };
    while position < bytes.len() && !sink.full {
        // Text already in the set with single spaces is copied a stretch at a time.
        let stretch_end = clean_stretch_end(bytes, position);
        if stretch_end > position {
            sink.push_stretch(&text[position..stretch_end]);
            position = stretch_end;
            continue;
        }
        if bytes[position] == b' ' {
            sink.space();
            position += 1;
            continue;
        }
        if let Some([first, second]) = lower_case_umlaut(&bytes[position..]) {
            sink.push(char::from(first));
            sink.push(char::from(second));
            position += 2;
            continue;
        }
        position = convert_character(text, position, &mut sink);
    }
    !sink.out.is_empty()
}

/// Converts the start of `text` up to the first character other than one of the set, the
/// space and ä ö ü ß, into `out`, without length checks; answers where it stopped.
/// `pending_space` says whether a space is owed before the next character.
fn convert_plain_start(text: &str, out: &mut String, pending_space: &mut bool) -> usize {
    let bytes = text.as_bytes();
    let mut position = 0;
    loop {
        let stretch_end = clean_stretch_end(bytes, position);
        if stretch_end > position {
            if *pending_space {
                out.push(' ');
                *pending_space = false;
            }
            out.push_str(&text[position..stretch_end]);
            position = stretch_end;
        }
        match bytes.get(position) {
            Some(b' ') => {
                *pending_space = !out.is_empty();
                position += 1;
            }
            _ => match lower_case_umlaut(&bytes[position..]) {
                Some([first, second]) => {
                    if *pending_space {
                        out.push(' ');
                        *pending_space = false;
                    }
                    out.push(char::from(first));
                    out.push(char::from(second));
                    position += 2;
                }
                None => return position,
            },
        }
    }
}

/// Where the stretch of clean text starting at `start` ends: characters of the set with single
/// spaces between them, starting and ending with a character of the set (so `start` itself
/// when `bytes[start]` is not one).
fn clean_stretch_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    loop {
        while end < bytes.len() && IN_SET[bytes[end] as usize] {
            end += 1;
        }
        let single_space_then_set = end > start
            && bytes.get(end) == Some(&b' ')
            && bytes.get(end + 1).is_some_and(|&b| IN_SET[b as usize]);
        if !single_space_then_set {
            return end;
        }
        end += 2;
    }
}

/// The replacement of `ä ö ü ß` when `bytes` starts with one (`C3 A4`, `C3 B6`, `C3 BC`,
/// `C3 9F` in UTF-8).
fn lower_case_umlaut(bytes: &[u8]) -> Option<[u8; 2]> {
    match bytes {
        [0xC3, 0xA4, ..] => Some(*b"ae"),
        [0xC3, 0xB6, ..] => Some(*b"oe"),
        [0xC3, 0xBC, ..] => Some(*b"ue"),
        [0xC3, 0x9F, ..] => Some(*b"ss"),
        _ => None,
    }
}

/// Converts the character at `position` (one outside the set, other than the space and the
/// lower-case umlauts) into `sink`; answers the position after it.
fn convert_character(text: &str, position: usize, sink: &mut Sink<'_>) -> usize {
    let Some(c) = text[position..].chars().next() else {
        return text.len();
    };
    let after = position + c.len_utf8();
    // The neighbours matter only for capital umlauts; they are looked up then.
    let previous = || text[..position].chars().next_back();
    let next = || text[after..].chars().next();
    match c {
        'ä' => sink.push_str("ae"),
        'ö' => sink.push_str("oe"),
        'ü' => sink.push_str("ue"),
        'Ä' | 'Ö' | 'Ü' => {
            let base = match c {
                'Ä' => 'A',
                'Ö' => 'O',
                _ => 'U',
            };
            sink.push(base);
            sink.push(if in_capitals(previous(), next()) {
                'E'
            } else {
                'e'
            });
        }
        'ß' => sink.push_str("ss"),
        'ẞ' => sink.push_str("SS"),
        '\u{308}' if matches!(previous(), Some('a' | 'o' | 'u')) => sink.push('e'),
        '\u{308}' if matches!(previous(), Some('A' | 'O' | 'U')) => {
            let before_base = text[..position].chars().rev().nth(1);
            sink.push(if in_capitals(before_base, next()) {
                'E'
            } else {
                'e'
            });
        }
        c if c.is_ascii() => match ascii_replacement(c) {
            Some(replacement) => sink.push_str(replacement),
            None => sink.space(),
        },
        c if c.is_whitespace() || c.is_control() || is_pictograph(c) => sink.space(),
        c => match deunicode::deunicode_char(c) {
            Some(transliterated) => {
                for t in transliterated.chars() {
                    if is_set_char(t) {
                        sink.push(t);
                    } else {
                        match ascii_replacement(t) {
                            Some(replacement) => sink.push_str(replacement),
                            None => sink.space(),
                        }
                    }
                }
            }
            None => sink.space(),
        },
    }
    after
}

/// Whether an upper-case umlaut stands in a word written in capitals, judged by its
/// neighbours: the next letter is a capital, or the word ends there after a capital.
fn in_capitals(previous: Option<char>, next: Option<char>) -> bool {
    match next {
        Some(n) if n.is_alphabetic() => n.is_uppercase(),
        _ => previous.is_some_and(char::is_uppercase),
    }
}

/// The replacement for ASCII punctuation outside the set (EPC217-08 §6.2 where it has a rule);
/// `None` for what becomes a space.
fn ascii_replacement(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "+",
        '_' | '~' => "-",
        '@' => "(at)",
        '"' | '`' => "'",
        '<' | '[' | '{' => "(",
        '>' | ']' | '}' => ")",
        ';' => ",",
        _ => return None,
    })
}

/// Emoji, dingbats, arrows and the other symbol blocks that a transliteration table would
/// spell out as words.
fn is_pictograph(c: char) -> bool {
    matches!(
        c as u32,
        0x2190..=0x21FF
            | 0x2300..=0x23FF
            | 0x25A0..=0x27BF
            | 0x2900..=0x297F
            | 0x2B00..=0x2BFF
            | 0x1F000..=0x1FAFF
            | 0x1FC00..=0x1FFFF
            | 0xE0000..=0xE007F
    )
}

/// Appends converted characters, folding spaces and stopping at the maximum length.
struct Sink<'a> {
    out: &'a mut String,
    max_chars: usize,
    /// A space is owed before the next character (never written at the start or the end).
    pending_space: bool,
    /// The maximum length is reached: everything after is dropped.
    full: bool,
}

impl Sink<'_> {
    /// Appends one character of the set (every character here is ASCII, so bytes are
    /// characters).
    fn push(&mut self, c: char) {
        if self.full {
            return;
        }
        let needed = if self.pending_space { 2 } else { 1 };
        if self.out.len() + needed > self.max_chars {
            self.full = true;
            return;
        }
        if self.pending_space {
            self.out.push(' ');
            self.pending_space = false;
        }
        self.out.push(c);
    }

    /// Appends a stretch of characters of the set with single spaces between them (starting
    /// and ending with a character of the set), cut at the maximum length without leaving a
    /// trailing space.
    fn push_stretch(&mut self, stretch: &str) {
        if self.full {
            return;
        }
        if self.pending_space {
            if self.out.len() + 2 > self.max_chars {
                self.full = true;
                return;
            }
            self.out.push(' ');
            self.pending_space = false;
        }
        let room = self.max_chars - self.out.len();
        if stretch.len() <= room {
            self.out.push_str(stretch);
        } else {
            // Spaces in a stretch are single, so a cut leaves at most one at its end.
            let cut = &stretch[..room];
            self.out.push_str(cut.strip_suffix(' ').unwrap_or(cut));
            self.full = true;
        }
    }

    fn push_str(&mut self, text: &str) {
        for c in text.chars() {
            if c == ' ' {
                self.space();
            } else {
                self.push(c);
            }
        }
    }

    fn space(&mut self) {
        if !self.out.is_empty() {
            self.pending_space = true;
        }
    }
}

/// Whether `text` is a valid SEPA identifier: 1 to 35 characters of the set, not starting or
/// ending with `/`, without `//`.
///
/// Also refused: a space at the start or the end (banks trim it, so the identifier would not
/// come back as sent in their reports). Identifiers are never converted: [`identifier_problem`]
/// says what is wrong with one that fails.
pub fn is_sepa_identifier(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if bytes.len() > 35 || matches!(first, b' ' | b'/') || matches!(last, b' ' | b'/') {
        return false;
    }
    // One pass without branches over what every byte is; the pairs are looked at only when
    // there is a slash at all.
    let (mut every, mut any) = (IDENTIFIER_BYTE, 0);
    for &b in bytes {
        every &= IDENTIFIER_CLASS[b as usize];
        any |= IDENTIFIER_CLASS[b as usize];
    }
    every != 0 && (any & SLASH == 0 || !bytes.windows(2).any(|pair| pair == b"//"))
}

/// What is wrong with `text` as a SEPA identifier, written for the person who has to fix it;
/// `None` when it is valid (the same rules as [`is_sepa_identifier`]).
pub fn identifier_problem(text: &str) -> Option<String> {
    if is_sepa_identifier(text) {
        return None;
    }
    if text.is_empty() {
        return Some("is empty; give 1 to 35 characters".to_owned());
    }
    if let Some(c) = text.chars().find(|c| *c != ' ' && !is_set_char(*c)) {
        return Some(format!(
            "contains '{}', which is outside the SEPA character set; use only letters a-z A-Z, \
             digits, space and / - ? : ( ) . , ' +",
            c.escape_default()
        ));
    }
    let length = text.len();
    if length > 35 {
        return Some(format!(
            "has {length} characters; an identifier has at most 35"
        ));
    }
    if text.starts_with(' ') || text.ends_with(' ') {
        return Some("starts or ends with a space; remove it".to_owned());
    }
    if text.starts_with('/') || text.ends_with('/') {
        return Some("starts or ends with '/', which the EPC forbids; remove it".to_owned());
    }
    if text.contains("//") {
        return Some("contains '//', which the EPC forbids; use a single '/'".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn convert(text: &str) -> Option<String> {
        to_sepa_text(text, 140)
    }

    fn only_sepa_characters(text: &str) -> bool {
        text.chars().all(|c| c == ' ' || is_set_char(c))
    }

    #[test]
    fn text_already_in_the_set_is_kept_as_it_is() {
        assert_eq!(
            convert("Acme GmbH, Rechnung 2026/07 (Rate 1) - Danke: ok? +'").as_deref(),
            Some("Acme GmbH, Rechnung 2026/07 (Rate 1) - Danke: ok? +'")
        );
    }

    #[test]
    fn german_umlauts_and_sharp_s_are_written_as_the_german_banks_write_them() {
        assert_eq!(
            convert("Jürgen Müller, Straße, Öl, Ärger, Übel, größer").as_deref(),
            Some("Juergen Mueller, Strasse, Oel, Aerger, Uebel, groesser")
        );
    }

    #[test]
    fn an_umlaut_in_a_word_written_in_capitals_stays_in_capitals() {
        assert_eq!(convert("JÜRGEN MÜLLER").as_deref(), Some("JUERGEN MUELLER"));
        assert_eq!(convert("GRÜẞE").as_deref(), Some("GRUESSE"));
        assert_eq!(convert("Ü").as_deref(), Some("Ue"));
        assert_eq!(convert("MÜ").as_deref(), Some("MUE"));
    }

    #[test]
    fn an_umlaut_written_with_a_combining_diaeresis_is_converted_like_the_precomposed_one() {
        assert_eq!(convert("Mu\u{308}ller").as_deref(), Some("Mueller"));
        assert_eq!(convert("U\u{308}bel").as_deref(), Some("Uebel"));
        assert_eq!(convert("MU\u{308}LLER").as_deref(), Some("MUELLER"));
    }

    #[test]
    fn accents_and_other_scripts_are_transliterated() {
        assert_eq!(
            convert("José Núñez, Łódź, François").as_deref(),
            Some("Jose Nunez, Lodz, Francois")
        );
        assert_eq!(convert("Θεόδωρος").as_deref(), Some("Theodoros"));
        assert_eq!(convert("Щукин").as_deref(), Some("Shchukin"));
        assert_eq!(convert("100 €").as_deref(), Some("100 EUR"));
    }

    #[test]
    fn an_ampersand_becomes_a_plus() {
        assert_eq!(
            convert("Müller & Söhne").as_deref(),
            Some("Mueller + Soehne")
        );
    }

    #[test]
    fn quotes_become_apostrophes_and_brackets_become_parentheses() {
        assert_eq!(
            convert("Firma \"Alt\" [Nord] <x> “neu”").as_deref(),
            Some("Firma 'Alt' (Nord) (x) 'neu'")
        );
    }

    #[test]
    fn emoji_are_dropped_rather_than_spelled_out() {
        assert_eq!(
            convert("Anna 😀 Schmidt 🦄").as_deref(),
            Some("Anna Schmidt")
        );
        assert_eq!(convert("👨‍👩‍👧 Familie").as_deref(), Some("Familie"));
    }

    #[test]
    fn control_characters_and_runs_of_spaces_fold_to_one_space() {
        assert_eq!(
            convert("  Anna\t\n  Schmidt\u{0}!!  ").as_deref(),
            Some("Anna Schmidt")
        );
    }

    #[test]
    fn text_with_nothing_convertible_gives_none() {
        assert_eq!(convert(""), None);
        assert_eq!(convert("   "), None);
        assert_eq!(convert("😀🦄"), None);
        assert_eq!(convert("!!! ### $$$"), None);
        assert_eq!(to_sepa_text("Anna", 0), None);
    }

    #[test]
    fn the_length_is_checked_after_transliteration() {
        let name = "ü".repeat(40);
        let converted = to_sepa_text(&name, 70).unwrap();
        assert_eq!(converted.len(), 70);
        assert_eq!(converted, "ue".repeat(35));
    }

    #[test]
    fn a_cut_never_leaves_a_trailing_space() {
        assert_eq!(to_sepa_text("Anna Schmidt", 4).as_deref(), Some("Anna"));
        assert_eq!(to_sepa_text("Anna Schmidt", 5).as_deref(), Some("Anna"));
        assert_eq!(to_sepa_text("Anna Schmidt", 6).as_deref(), Some("Anna S"));
        assert_eq!(to_sepa_text("Anna  Schmidt", 5).as_deref(), Some("Anna"));
    }

    #[test]
    fn identifiers_of_the_set_up_to_35_characters_are_valid() {
        assert!(is_sepa_identifier("E2E-2026-07-0001"));
        assert!(is_sepa_identifier("TR-ABC 123/4:5(6).7,8'9+?"));
        assert!(is_sepa_identifier(&"A".repeat(35)));
    }

    #[test]
    fn identifiers_outside_the_rules_are_invalid_and_the_problem_is_named() {
        assert!(!is_sepa_identifier(""));
        assert!(!is_sepa_identifier(&"A".repeat(36)));
        assert!(!is_sepa_identifier("E2E_1"));
        assert!(!is_sepa_identifier("Müller"));
        assert!(!is_sepa_identifier("/E2E"));
        assert!(!is_sepa_identifier("E2E/"));
        assert!(!is_sepa_identifier("E2E//1"));
        assert!(!is_sepa_identifier(" E2E"));
        assert!(!is_sepa_identifier("E2E&1"));
        assert!(identifier_problem("E2E_1").unwrap().contains("'_'"));
        assert!(identifier_problem(&"A".repeat(36)).unwrap().contains("36"));
    }

    /// Any Unicode scalar values, control and unassigned characters included.
    fn any_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..120).prop_map(|c| c.into_iter().collect())
    }

    /// Text that leans on the characters the rules treat specially.
    fn tricky_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop::sample::select(vec![
                'a', 'U', ' ', ' ', 'ä', 'Ä', 'Ü', 'ß', 'ẞ', '\u{308}', '&', '"', '@', '😀', 'Θ',
                '日', '\t', '/', '\'', '_', 'é',
            ]),
            0..60,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    /// Text of characters of the set, spaces and the lower-case umlauts, which the converter
    /// copies a stretch at a time rather than character by character.
    fn plain_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop::sample::select(vec![
                'a', 'Z', '0', '/', '\'', '-', ' ', ' ', ' ', 'ä', 'ö', 'ü', 'ß',
            ]),
            0..60,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    /// The conversion of [`plain_text`] spelled out: replace the umlauts, fold the spaces,
    /// trim, cut to the maximum without leaving a trailing space.
    fn convert_plain_text_step_by_step(text: &str, max: usize) -> Option<String> {
        let replaced = text
            .replace('ä', "ae")
            .replace('ö', "oe")
            .replace('ü', "ue")
            .replace('ß', "ss");
        let folded = replaced.split_whitespace().collect::<Vec<_>>().join(" ");
        let cut = folded[..folded.len().min(max)].trim_end();
        (!cut.is_empty()).then(|| cut.to_owned())
    }

    proptest! {
        #[test]
        fn plain_text_converts_as_the_rules_spell_it_out(text in plain_text(), max in 0usize..80) {
            prop_assert_eq!(
                to_sepa_text(&text, max),
                convert_plain_text_step_by_step(&text, max)
            );
        }

        #[test]
        fn converted_text_only_ever_contains_the_sepa_set(text in any_text(), max in 0usize..200) {
            if let Some(converted) = to_sepa_text(&text, max) {
                prop_assert!(only_sepa_characters(&converted), "{converted:?}");
                prop_assert!(!converted.is_empty());
                prop_assert!(!converted.starts_with(' ') && !converted.ends_with(' '));
                prop_assert!(!converted.contains("  "));
            }
        }

        #[test]
        fn converted_text_is_never_longer_than_the_maximum(text in any_text(), max in 0usize..200) {
            if let Some(converted) = to_sepa_text(&text, max) {
                prop_assert!(converted.chars().count() <= max);
            }
        }

        #[test]
        fn conversion_is_idempotent(text in any_text(), max in 1usize..200) {
            if let Some(converted) = to_sepa_text(&text, max) {
                prop_assert_eq!(to_sepa_text(&converted, max), Some(converted));
            }
        }

        #[test]
        fn conversion_of_tricky_text_keeps_every_promise(text in tricky_text(), max in 1usize..80) {
            if let Some(converted) = to_sepa_text(&text, max) {
                prop_assert!(only_sepa_characters(&converted), "{converted:?}");
                prop_assert!(converted.len() <= max);
                prop_assert_eq!(to_sepa_text(&converted, max), Some(converted.clone()));
            }
        }

        #[test]
        fn conversion_never_panics_on_any_string(text in "\\PC*", max in 0usize..300) {
            let _ = to_sepa_text(&text, max);
        }

        #[test]
        fn an_identifier_that_is_valid_is_in_the_set_and_at_most_35_long(text in any_text()) {
            if is_sepa_identifier(&text) {
                prop_assert!(only_sepa_characters(&text));
                prop_assert!((1..=35).contains(&text.len()));
            }
        }
    }
}
