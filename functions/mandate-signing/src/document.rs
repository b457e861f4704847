//! The PDF copy of a signed mandate: the file the debtor and the creditor both receive.
//!
//! The PDF is drawn from the same [`MandateDocument`] that the signing page shows and whose
//! SHA-256 is kept as evidence, line for line, so the copy cannot say anything the debtor did
//! not see.
//!
//! The pages use the PDF's built-in Helvetica and Helvetica-Bold, so no font file is shipped or
//! embedded and a mandate stays a few kilobytes. printpdf does no text layout without its heavy
//! `html` feature, so this module places every line itself: it measures text with Helvetica's
//! Adobe (AFM) advance widths and wraps it inside 20 mm margins, and it continues the payment
//! plan on further pages with its heading repeated.
//!
//! # Limits
//!
//! - The built-in fonts show the WinAnsi (Windows-1252) characters only: the Latin letters of
//!   the Western European languages with their accents, `ß`, `Œ`, `€`, typographic quotes and
//!   dashes. Any other character (Polish `ł`, Greek, Cyrillic, CJK, emoji, and accents written
//!   as separate combining marks) is printed as `?`, so the loss is visible rather than silent.
//!   Names outside that set need an embedded font.
//! - The file carries its title but no document language (`/Lang`): printpdf 0.12 has no setting
//!   for it. Its creation date is printpdf's fixed default, not the signing date, which the
//!   signature line states.
//! - The payment plan has no column labels: the document carries none, and the number, the
//!   date and the amount read without them.

use printpdf::{
    BuiltinFont, Color, Greyscale, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, Rect, TextItem,
};
use tranche_domain::document::MandateDocument;
use tranche_domain::error::StoreError;
use tranche_domain::ports::DocumentRenderer;
use tranche_domain::secrets::sha256_hex;

/// The [`DocumentRenderer`] of the functions: lays the mandate out on A4 pages with printpdf.
///
/// It holds no state, so one value can serve every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PdfRenderer;

impl DocumentRenderer for PdfRenderer {
    fn render_pdf(&self, document: &MandateDocument) -> Result<Vec<u8>, StoreError> {
        Ok(render_mandate_pdf(document))
    }
}

/// The [`PdfRenderer`] as the mandate-signing function's wiring builds it.
pub fn pdf_renderer() -> std::sync::Arc<dyn DocumentRenderer> {
    std::sync::Arc::new(PdfRenderer)
}

/// The mandate as PDF bytes, for callers that need no [`DocumentRenderer`] trait object.
///
/// The same document always gives the same bytes: the file identifier that printpdf draws at
/// random is replaced by one taken from the content, so a copy can be compared with the one
/// sent.
pub fn render_mandate_pdf(document: &MandateDocument) -> Vec<u8> {
    let mut layout = Layout::new();

    layout.text_block(LEFT, TEXT_WIDTH, TITLE, &document.title);
    layout.space(8.0);
    for (index, line) in document.creditor_lines.iter().enumerate() {
        let style = if index == 0 { CREDITOR_NAME } else { BODY };
        layout.text_block(LEFT, TEXT_WIDTH, style, line);
    }
    layout.space(10.0);
    layout.rule(layout.y, 0.8, DARK);
    layout.space(4.0);

    layout.fields(document);
    layout.space(14.0);

    for paragraph in &document.paragraphs {
        layout.text_block(LEFT, TEXT_WIDTH, BODY, paragraph);
        layout.space(6.0);
    }
    layout.space(10.0);

    layout.schedule(document);

    if document.signature.is_some() || document.fingerprint.is_some() {
        layout.space(22.0);
        layout.signature(document);
    }

    let pages = layout.finish();
    let mut pdf = PdfDocument::new(&document.title);
    pdf.metadata.info.creator = "Tranche".to_owned();
    pdf.metadata.info.producer = "Tranche (printpdf)".to_owned();
    pdf.with_pages(pages);
    let mut warnings = Vec::new();
    let bytes = pdf.save(&PdfSaveOptions::default(), &mut warnings);
    with_content_file_id(bytes)
}

// --- page geometry, in points from the bottom left corner (A4, 20 mm margins) ---

const PAGE_WIDTH: f32 = 595.276;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.693;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
const TOP: f32 = PAGE_HEIGHT - MARGIN;
const BOTTOM: f32 = MARGIN;
const TEXT_WIDTH: f32 = RIGHT - LEFT;
/// The page number sits in the bottom margin, 10 mm above the edge.
const FOOTER_BASELINE: f32 = 28.35;
/// Inner left and right padding of table cells.
const CELL_PADDING: f32 = 6.0;

// --- grey levels (0 is black, 1 is white) ---

const BLACK: f32 = 0.0;
const DARK: f32 = 0.25;
const MUTED: f32 = 0.4;
const HAIRLINE: f32 = 0.8;
const HEADER_BAND: f32 = 0.9;
const STRIPE: f32 = 0.96;

/// A font, size, line height and grey level: how one kind of text looks.
#[derive(Debug, Clone, Copy)]
struct Style {
    font: Font,
    size: f32,
    leading: f32,
    grey: f32,
}

const TITLE: Style = Style {
    font: Font::Bold,
    size: 17.0,
    leading: 22.0,
    grey: BLACK,
};
const CREDITOR_NAME: Style = Style {
    font: Font::Bold,
    size: 10.5,
    leading: 14.0,
    grey: BLACK,
};
const BODY: Style = Style {
    font: Font::Regular,
    size: 9.5,
    leading: 13.0,
    grey: BLACK,
};
const BODY_BOLD: Style = Style {
    font: Font::Bold,
    ..BODY
};
const LABEL: Style = Style {
    font: Font::Bold,
    size: 8.5,
    leading: 13.0,
    grey: DARK,
};
const HEADING: Style = Style {
    font: Font::Bold,
    size: 10.5,
    leading: 14.0,
    grey: BLACK,
};
const SMALL: Style = Style {
    font: Font::Regular,
    size: 8.5,
    leading: 12.0,
    grey: BLACK,
};
const FOOTER: Style = Style {
    font: Font::Regular,
    size: 8.0,
    leading: 10.0,
    grey: MUTED,
};

/// Where a cell's lines sit between its edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// A table cell: its text, wrapped to the cell's width, and where it goes.
#[derive(Debug)]
struct Cell {
    lines: Vec<String>,
    style: Style,
    x: f32,
    width: f32,
    align: Align,
}

impl Cell {
    fn new(text: &str, style: Style, x: f32, width: f32, align: Align) -> Self {
        Cell {
            lines: wrap(text, style.font, style.size, width),
            style,
            x,
            width,
            align,
        }
    }
}

/// The pages drawn so far and the cursor: `y` is the top of the free space on the last page.
struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Layout {
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a layout always has a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Starts a new page when `height` does not fit on this one; says whether it did, so a
    /// table can repeat its header.
    fn ensure(&mut self, height: f32) -> bool {
        let fits_on_empty_page = height <= TOP - BOTTOM;
        if self.y - height < BOTTOM && fits_on_empty_page && self.y < TOP {
            self.new_page();
            return true;
        }
        false
    }

    fn space(&mut self, height: f32) {
        self.y = (self.y - height).max(BOTTOM);
    }

    /// Draws one line of text whose line box has its top at `top`.
    fn line(&mut self, x: f32, top: f32, style: Style, text: &str) {
        let baseline = baseline(top, style.leading, style.size);
        self.ops().extend(text_ops(x, baseline, style, text));
    }

    /// A horizontal line across the text width at height `y`.
    fn rule(&mut self, y: f32, thickness: f32, level: f32) {
        self.ops().extend([
            Op::SetOutlineColor { col: grey(level) },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(LEFT, y), point(RIGHT, y)],
                    is_closed: false,
                },
            },
        ]);
    }

    /// A filled band across the text width, `height` tall, below `top`.
    fn band(&mut self, top: f32, height: f32, level: f32) {
        let mut rectangle = Rect::from_xywh(Pt(LEFT), Pt(top - height), Pt(TEXT_WIDTH), Pt(height));
        rectangle.mode = Some(PaintMode::Fill);
        self.ops().extend([
            Op::SetFillColor { col: grey(level) },
            Op::DrawRectangle { rectangle },
        ]);
    }

    /// Wrapped text, continued on the next page when the page is full.
    fn text_block(&mut self, x: f32, width: f32, style: Style, text: &str) {
        let lines = wrap(text, style.font, style.size, width);
        self.lines_of(x, &lines, style);
    }

    /// The height `cells` take side by side, with `padding` above and below.
    fn row_height(cells: &[Cell], padding: f32) -> f32 {
        let leading = Self::row_leading(cells);
        let lines = cells.iter().map(|c| c.lines.len()).max().unwrap_or(1);
        lines as f32 * leading + 2.0 * padding
    }

    /// One line grid for the whole row, so the cells' lines stand side by side.
    fn row_leading(cells: &[Cell]) -> f32 {
        cells.iter().map(|c| c.style.leading).fold(0.0, f32::max)
    }

    /// Draws a table row at the cursor. A row taller than a page (a value of thousands of
    /// characters) is continued on the next page line by line instead of running off this one.
    fn row(&mut self, cells: &[Cell], padding: f32) {
        let leading = Self::row_leading(cells);
        let lines = cells.iter().map(|c| c.lines.len()).max().unwrap_or(1);

        // Cells of different sizes share one baseline per line.
        let size = cells.iter().map(|c| c.style.size).fold(0.0, f32::max);

        let mut top = self.y - padding;
        for index in 0..lines {
            if top - leading < BOTTOM {
                self.new_page();
                top = self.y;
            }
            let baseline = baseline(top, leading, size);
            for cell in cells {
                let Some(text) = cell.lines.get(index) else {
                    continue;
                };
                let x = match cell.align {
                    Align::Left => cell.x,
                    Align::Right => {
                        cell.x + cell.width - cell.style.font.width(text, cell.style.size)
                    }
                };
                self.ops().extend(text_ops(x, baseline, cell.style, text));
            }
            top -= leading;
        }
        self.y = top - padding;
    }

    /// The mandate's fields as a label / value table with hairlines between the rows.
    fn fields(&mut self, document: &MandateDocument) {
        let widest_label = document
            .fields
            .iter()
            .map(|f| longest_word_or_line(&f.label, LABEL))
            .fold(0.0, f32::max);
        let label_width = (widest_label + 2.0 * CELL_PADDING).clamp(110.0, TEXT_WIDTH * 0.42);
        let value_x = LEFT + label_width;
        let value_width = TEXT_WIDTH - label_width - CELL_PADDING;

        for field in &document.fields {
            let cells = [
                Cell::new(
                    &field.label,
                    LABEL,
                    LEFT,
                    label_width - CELL_PADDING,
                    Align::Left,
                ),
                Cell::new(&field.value, BODY, value_x, value_width, Align::Left),
            ];
            self.ensure(Self::row_height(&cells, 3.0));
            self.row(&cells, 3.0);
            let y = self.y;
            self.rule(y, 0.4, HAIRLINE);
        }
    }

    /// The payment plan: a heading band, one striped row per instalment, and the total. When
    /// the plan runs past the page, the band is drawn again at the top of the next one.
    fn schedule(&mut self, document: &MandateDocument) {
        let columns = ScheduleColumns::new(document);
        let heading = [Cell::new(
            &document.schedule_heading,
            HEADING,
            LEFT + CELL_PADDING,
            TEXT_WIDTH - 2.0 * CELL_PADDING,
            Align::Left,
        )];
        let heading_height = Self::row_height(&heading, 3.0);
        let header = |layout: &mut Layout| {
            let top = layout.y;
            layout.band(top, heading_height, HEADER_BAND);
            layout.row(&heading, 3.0);
            layout.space(2.0);
        };

        // The heading is never left alone at the bottom of a page: up to three rows go with it.
        let first_rows = document.schedule.iter().take(3).map(|line| {
            let cells = columns.cells(&line.number, &line.due_date, &line.amount, BODY);
            Self::row_height(&cells, 1.0)
        });
        self.ensure(heading_height + 2.0 + first_rows.sum::<f32>());
        header(self);

        for (index, line) in document.schedule.iter().enumerate() {
            let cells = columns.cells(&line.number, &line.due_date, &line.amount, BODY);
            let height = Self::row_height(&cells, 1.0);
            if self.ensure(height) {
                header(self);
            }
            if index % 2 == 1 {
                let top = self.y;
                self.band(top, height.min(top - BOTTOM), STRIPE);
            }
            self.row(&cells, 1.0);
        }

        let total = columns.total_cells(&document.total.label, &document.total.value);
        if self.ensure(Self::row_height(&total, 3.0) + 4.0) {
            header(self);
        }
        let y = self.y - 2.0;
        self.rule(y, 0.8, DARK);
        self.y = y;
        self.row(&total, 3.0);
    }

    /// The signature line and the document fingerprint, kept together on one page.
    fn signature(&mut self, document: &MandateDocument) {
        let signature = document
            .signature
            .as_deref()
            .map(|text| wrap(text, BODY.font, BODY.size, TEXT_WIDTH))
            .unwrap_or_default();
        let fingerprint = document.fingerprint.as_ref().map(|field| {
            (
                wrap(&field.label, LABEL.font, LABEL.size, TEXT_WIDTH),
                wrap(&field.value, SMALL.font, SMALL.size, TEXT_WIDTH),
            )
        });
        let height = 8.0
            + signature.len() as f32 * BODY.leading
            + fingerprint.as_ref().map_or(0.0, |(label, value)| {
                4.0 + label.len() as f32 * LABEL.leading + value.len() as f32 * SMALL.leading
            });
        self.ensure(height);

        let y = self.y;
        self.rule(y, 0.4, HAIRLINE);
        self.space(8.0);
        self.lines_of(LEFT, &signature, BODY);
        if let Some((label, value)) = fingerprint {
            self.space(4.0);
            self.lines_of(LEFT, &label, LABEL);
            self.lines_of(LEFT, &value, SMALL);
        }
    }

    /// Draws lines that are already wrapped, one below the other.
    fn lines_of(&mut self, x: f32, lines: &[String], style: Style) {
        for line in lines {
            self.ensure(style.leading);
            let top = self.y;
            self.line(x, top, style, line);
            self.y -= style.leading;
        }
    }

    /// The pages with their footers ("2/3"), ready for printpdf.
    fn finish(self) -> Vec<PdfPage> {
        let count = self.pages.len();
        self.pages
            .into_iter()
            .enumerate()
            .map(|(index, mut ops)| {
                let number = format!("{}/{}", index + 1, count);
                let x = (PAGE_WIDTH - FOOTER.font.width(&number, FOOTER.size)) / 2.0;
                ops.extend(text_ops(x, FOOTER_BASELINE, FOOTER, &number));
                PdfPage::new(Mm(210.0), Mm(297.0), ops)
            })
            .collect()
    }
}

/// Where the number, the date and the amount of the plan's rows go, sized to the widest entry.
struct ScheduleColumns {
    number_x: f32,
    number_width: f32,
    date_x: f32,
    date_width: f32,
    amount_x: f32,
    amount_width: f32,
}

impl ScheduleColumns {
    fn new(document: &MandateDocument) -> Self {
        let widest = |texts: &mut dyn Iterator<Item = &String>, style: Style| {
            texts
                .map(|t| style.font.width(&printable(t), style.size))
                .fold(0.0, f32::max)
        };
        let widest_number = widest(&mut document.schedule.iter().map(|l| &l.number), BODY);
        let widest_amount = widest(
            &mut document
                .schedule
                .iter()
                .map(|l| &l.amount)
                .chain([&document.total.value]),
            BODY_BOLD,
        );

        let number_x = LEFT + CELL_PADDING;
        let number_width = (widest_number + 2.0 * CELL_PADDING).clamp(40.0, TEXT_WIDTH * 0.3);
        let amount_width = widest_amount.clamp(60.0, TEXT_WIDTH * 0.35);
        let amount_x = RIGHT - CELL_PADDING - amount_width;
        let date_x = number_x + number_width;
        let date_width = amount_x - CELL_PADDING - date_x;
        ScheduleColumns {
            number_x,
            number_width: number_width - CELL_PADDING,
            date_x,
            date_width,
            amount_x,
            amount_width,
        }
    }

    fn cells(&self, number: &str, date: &str, amount: &str, style: Style) -> [Cell; 3] {
        [
            Cell::new(number, style, self.number_x, self.number_width, Align::Left),
            Cell::new(date, style, self.date_x, self.date_width, Align::Left),
            Cell::new(
                amount,
                style,
                self.amount_x,
                self.amount_width,
                Align::Right,
            ),
        ]
    }

    /// The total's label spans the number and date columns.
    fn total_cells(&self, label: &str, value: &str) -> [Cell; 2] {
        let label_width = self.date_x + self.date_width - self.number_x;
        [
            Cell::new(label, BODY_BOLD, self.number_x, label_width, Align::Left),
            Cell::new(
                value,
                BODY_BOLD,
                self.amount_x,
                self.amount_width,
                Align::Right,
            ),
        ]
    }
}

/// The baseline that centres capitals of `size` points in a line box of `leading` points whose
/// top is at `top`.
fn baseline(top: f32, leading: f32, size: f32) -> f32 {
    top - leading / 2.0 - size * 0.36
}

/// The operations that show one line of printable text with its baseline at `baseline`.
fn text_ops(x: f32, baseline: f32, style: Style, text: &str) -> [Op; 6] {
    [
        Op::SetFillColor {
            col: grey(style.grey),
        },
        Op::StartTextSection,
        Op::SetFont {
            font: PdfFontHandle::Builtin(style.font.builtin()),
            size: Pt(style.size),
        },
        Op::SetTextCursor {
            pos: Point {
                x: Pt(x),
                y: Pt(baseline),
            },
        },
        Op::ShowText {
            items: vec![TextItem::Text(text.to_owned())],
        },
        Op::EndTextSection,
    ]
}

fn grey(level: f32) -> Color {
    Color::Greyscale(Greyscale::new(level, None))
}

fn point(x: f32, y: f32) -> LinePoint {
    LinePoint {
        p: Point { x: Pt(x), y: Pt(y) },
        bezier: false,
    }
}

/// The width a label column needs: its longest word, or the whole label when that is short.
fn longest_word_or_line(text: &str, style: Style) -> f32 {
    let text = printable(text);
    let whole = style.font.width(&text, style.size);
    if whole <= TEXT_WIDTH * 0.42 {
        return whole;
    }
    text.split(' ')
        .map(|word| style.font.width(word, style.size))
        .fold(0.0, f32::max)
}

// --- text: what the built-in fonts can show, how wide it is, where it wraps ---

/// The two faces the document uses, both among the 14 fonts every PDF reader has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn builtin(self) -> BuiltinFont {
        match self {
            Font::Regular => BuiltinFont::Helvetica,
            Font::Bold => BuiltinFont::HelveticaBold,
        }
    }

    /// The advance width of printable text at `size` points, as a reader draws it (the text
    /// is shown without kerning, so the AFM widths add up exactly).
    fn width(self, text: &str, size: f32) -> f32 {
        let widths = match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        };
        let units: u32 = text
            .chars()
            .map(|c| {
                let byte = win_ansi_byte(c).unwrap_or(b'?');
                u32::from(widths[usize::from(byte - 0x20)])
            })
            .sum();
        units as f32 * size / 1000.0
    }
}

/// `text` with every character the built-in fonts cannot show replaced: spaces of other
/// widths become a space (or a no-break space, when they must not break), invisible joiners
/// are dropped, and anything else outside WinAnsi becomes `?`. Line breaks are kept for
/// [`wrap`].
fn printable(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' | '\r' => Some(' '),
            // Figure space and narrow no-break space (French thousands) must not break either.
            '\u{2007}' | '\u{202F}' => Some('\u{A0}'),
            '\u{2000}'..='\u{200A}' => Some(' '),
            '\u{2010}' | '\u{2011}' | '\u{2212}' => Some('-'),
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => None,
            c if win_ansi_byte(c).is_some() => Some(c),
            _ => Some('?'),
        })
        .collect()
}

/// The WinAnsi (PDF 32000-1, Annex D) byte of a printable character, `None` when the built-in
/// fonts have no glyph for it. printpdf encodes the same way when it writes the text.
fn win_ansi_byte(c: char) -> Option<u8> {
    let byte = match c {
        // WinAnsi agrees with ASCII and Latin-1 here.
        ' '..='~' | '\u{A0}'..='\u{FF}' => return u8::try_from(u32::from(c)).ok(),
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201C}' => 0x93,
        '\u{201D}' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(byte)
}

/// Breaks `text` into printable lines no wider than `width` points. Lines break at spaces
/// (never at the no-break spaces inside amounts); a word wider than the line, such as a
/// fingerprint, is cut between characters. Line breaks in the text are kept.
fn wrap(text: &str, font: Font, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in printable(text).split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            for piece in cut_to_width(word, font, size, width) {
                let candidate = if line.is_empty() {
                    piece.clone()
                } else {
                    format!("{line} {piece}")
                };
                if line.is_empty() || font.width(&candidate, size) <= width {
                    line = candidate;
                } else {
                    lines.push(std::mem::replace(&mut line, piece));
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// `word` in pieces no wider than `width`, each of at least one character.
fn cut_to_width(word: &str, font: Font, size: f32, width: f32) -> Vec<String> {
    if font.width(word, size) <= width {
        return vec![word.to_owned()];
    }
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for c in word.chars() {
        piece.push(c);
        if font.width(&piece, size) > width && piece.chars().count() > 1 {
            piece.pop();
            pieces.push(std::mem::replace(&mut piece, c.to_string()));
        }
    }
    pieces.push(piece);
    pieces
}

/// printpdf writes a random file identifier (`/ID`) into the trailer. Replaces both of its
/// 32-character strings by the first 32 hex digits of the SHA-256 of everything before the
/// trailer: the same length, so no offset in the file moves, and the same document gives the
/// same bytes. Leaves the file as it is when the trailer is not in the expected shape.
fn with_content_file_id(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(trailer) = find_last(&bytes, b"trailer") else {
        return bytes;
    };
    let Some(id_start) = find_last(&bytes[trailer..], b"/ID[(").map(|i| trailer + i + 5) else {
        return bytes;
    };
    let id = sha256_hex(&bytes[..trailer]);
    let id = &id.as_bytes()[..32];

    // The two strings: `(` 32 characters `)(` 32 characters `)`.
    let first = id_start..id_start + 32;
    let second = id_start + 34..id_start + 66;
    let shape_matches = bytes.len() > second.end
        && bytes[first.end..second.start] == *b")("
        && bytes[second.end] == b')'
        && bytes[first.clone()]
            .iter()
            .chain(&bytes[second.clone()])
            .all(u8::is_ascii_alphanumeric);
    if shape_matches {
        bytes[first].copy_from_slice(id);
        bytes[second].copy_from_slice(id);
    }
    bytes
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// Helvetica's advance widths (Adobe AFM, 1/1000 em) for the WinAnsi bytes 0x20 to 0xFF.
/// 0xA0, the no-break space, is as wide as a space; unused bytes are 0.
const HELVETICA_WIDTHS: [u16; 224] = [
    // 0x20..=0x2F
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    // 0x30..=0x3F
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    // 0x40..=0x4F
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    // 0x50..=0x5F
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    // 0x60..=0x6F
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    // 0x70..=0x7F
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    // 0x80..=0x8F
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    // 0x90..=0x9F
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    // 0xA0..=0xAF
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    // 0xB0..=0xBF
    400, 584, 333, 333, 333, 578, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    // 0xC0..=0xCF
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    // 0xD0..=0xDF
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    // 0xE0..=0xEF
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    // 0xF0..=0xFF
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's advance widths, laid out like [`HELVETICA_WIDTHS`].
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    // 0x20..=0x2F
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    // 0x30..=0x3F
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    // 0x40..=0x4F
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    // 0x50..=0x5F
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    // 0x60..=0x6F
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    // 0x70..=0x7F
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    // 0x80..=0x8F
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    // 0x90..=0x9F
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    // 0xA0..=0xAF
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    // 0xB0..=0xBF
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    // 0xC0..=0xCF
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    // 0xD0..=0xDF
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    // 0xE0..=0xEF
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    // 0xF0..=0xFF
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use std::process::Command;

    use tranche_domain::creditor::Language;
    use tranche_domain::document::{DocumentField, ScheduleLine};

    use super::*;

    const NBSP: char = '\u{A0}';

    fn field(label: &str, value: &str) -> DocumentField {
        DocumentField {
            label: label.to_owned(),
            value: value.to_owned(),
        }
    }

    fn instalment(number: &str, due_date: &str, amount: &str) -> ScheduleLine {
        ScheduleLine {
            number: number.to_owned(),
            due_date: due_date.to_owned(),
            amount: amount.replace(' ', &NBSP.to_string()),
        }
    }

    /// A signed German mandate with a down payment and six instalments.
    fn german_mandate() -> MandateDocument {
        let mut document = MandateDocument {
            language: Language::De,
            title: "SEPA-Lastschriftmandat".to_owned(),
            creditor_lines: vec![
                "Müller & Söhne Möbelhaus GmbH".to_owned(),
                "Königstraße 12".to_owned(),
                "70173 Stuttgart".to_owned(),
                "Deutschland".to_owned(),
            ],
            fields: vec![
                field("Gläubiger-Identifikationsnummer", "DE98ZZZ09999999999"),
                field("Mandatsreferenz", "MUEL-7K3M9Q2X4T8B"),
                field("Zahlungsart", "Wiederkehrende Zahlung"),
                field("Verfahren", "SEPA-Basislastschrift (CORE)"),
                field("Zahlungspflichtiger", "Jürgen Weiß"),
                field(
                    "Anschrift",
                    "Straßburger Allee 5, 10405 Berlin, Deutschland",
                ),
                field("IBAN", "DE89 3704 0044 0532 0130 00"),
                field("BIC", "COBADEFFXXX"),
            ],
            paragraphs: vec![
                "Ich ermächtige Müller & Söhne Möbelhaus GmbH, Zahlungen von meinem Konto mittels \
                 Lastschrift einzuziehen. Zugleich weise ich mein Kreditinstitut an, die von \
                 Müller & Söhne Möbelhaus GmbH auf mein Konto gezogenen Lastschriften einzulösen."
                    .to_owned(),
                "Hinweis: Ich kann innerhalb von acht Wochen, beginnend mit dem Belastungsdatum, \
                 die Erstattung des belasteten Betrages verlangen. Es gelten dabei die mit meinem \
                 Kreditinstitut vereinbarten Bedingungen."
                    .to_owned(),
                "Über jeden Einzug werde ich spätestens 5 Tage vor Fälligkeit informiert."
                    .to_owned(),
            ],
            schedule_heading: "Ihr Zahlungsplan".to_owned(),
            schedule: vec![
                instalment("Anzahlung", "15. Januar 2027", "1.000,00 €"),
                instalment("1", "1. Februar 2027", "233,34 €"),
                instalment("2", "1. März 2027", "233,33 €"),
                instalment("3", "1. April 2027", "233,33 €"),
                instalment("4", "3. Mai 2027", "233,33 €"),
                instalment("5", "1. Juni 2027", "233,33 €"),
                instalment("6", "1. Juli 2027", "233,34 €"),
            ],
            total: field("Gesamtbetrag", &format!("2.400,00{NBSP}€")),
            signature: None,
            fingerprint: None,
        };
        document.fingerprint = Some(field(
            "Dokument-Fingerabdruck (SHA-256)",
            &document.sha256(),
        ));
        document.signature = Some(
            "Elektronisch unterschrieben am 15. Januar 2027 um 10:42 UTC von Jürgen Weiß, durch \
             Eingabe des Namens und Ankreuzen der Zustimmung."
                .to_owned(),
        );
        document
    }

    /// A signed French mandate: accents, Œ, typographic apostrophes and no-break spaces.
    fn french_mandate() -> MandateDocument {
        let mut document = MandateDocument {
            language: Language::Fr,
            title: "Mandat de prélèvement SEPA".to_owned(),
            creditor_lines: vec![
                "Boulangerie Étoile SARL".to_owned(),
                "12 rue de la Pâquerette".to_owned(),
                "75011 Paris".to_owned(),
                "France".to_owned(),
            ],
            fields: vec![
                field("Identifiant créancier SEPA", "FR72ZZZ123456"),
                field("Référence unique du mandat", "ETOI-4F8H2K9M3P7Q"),
                field("Type de paiement", "Paiement récurrent"),
                field("Schéma", "Prélèvement SEPA CORE"),
                field("Débiteur", "Françoise Lefèvre-Œuvray"),
                field("Adresse", "3 place de l’Église, 69002 Lyon, France"),
                field("IBAN", "FR76 3000 6000 0112 3456 7890 189"),
                field("BIC", "AGRIFRPPXXX"),
            ],
            paragraphs: vec![
                "En signant ce formulaire de mandat, vous autorisez Boulangerie Étoile SARL à \
                 envoyer des instructions à votre banque pour débiter votre compte, et votre \
                 banque à débiter votre compte conformément aux instructions de Boulangerie \
                 Étoile SARL."
                    .to_owned(),
                "Vous bénéficiez du droit d’être remboursé par votre banque selon les conditions \
                 décrites dans la convention que vous avez passée avec elle. Une demande de \
                 remboursement doit être présentée dans les 8 semaines suivant la date de débit \
                 de votre compte pour un prélèvement autorisé."
                    .to_owned(),
            ],
            schedule_heading: "Votre plan de paiement".to_owned(),
            schedule: vec![
                instalment("1", "1er mars 2027", "1 000,00 €"),
                instalment("2", "1 avril 2027", "1 000,00 €"),
                instalment("3", "3 mai 2027", "500,00 €"),
            ],
            total: field("Total", &format!("2{NBSP}500,00{NBSP}€")),
            signature: None,
            fingerprint: None,
        };
        document.fingerprint = Some(field("Empreinte du document (SHA-256)", &document.sha256()));
        document.signature = Some(
            "Signé électroniquement le 12 février 2027 à 09:15 UTC par Françoise Lefèvre-Œuvray, \
             confirmé par un code envoyé à f•••@exemple.fr."
                .to_owned(),
        );
        document
    }

    /// A plan of `count` monthly instalments, unsigned.
    fn long_plan(count: u32) -> MandateDocument {
        let mut document = german_mandate();
        document.schedule = (1..=count)
            .map(|n| {
                let year = 2027 + (n - 1) / 12;
                let month = (n - 1) % 12 + 1;
                instalment(
                    &n.to_string(),
                    &format!("1.{month:02}.{year}"),
                    &format!("{},{:02} €", 100 + n, n % 100),
                )
            })
            .collect();
        document.signature = None;
        document.fingerprint = None;
        document
    }

    /// Runs a poppler tool on the PDF and answers what it printed. Fails, never skips, when
    /// poppler-utils is not installed.
    fn poppler(tool: &str, arguments: &[&str], output_to_stdout: bool, pdf: &[u8]) -> String {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let path = folder.path().join("mandate.pdf");
        std::fs::write(&path, pdf).expect("the PDF is written");
        let output = Command::new(tool)
            .args(arguments)
            .arg(&path)
            .args(output_to_stdout.then_some("-"))
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "{tool} could not be run ({error}): install poppler-utils \
                     (apt-get install -y poppler-utils)"
                )
            });
        assert!(
            output.status.success(),
            "{tool} failed on the PDF: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("poppler prints UTF-8")
    }

    fn pdftotext_layout(pdf: &[u8]) -> String {
        poppler("pdftotext", &["-layout", "-enc", "UTF-8"], true, pdf)
    }

    /// Every run of white space (no-break spaces and line ends included) as one space, so a
    /// phrase is found whatever the layout made of the spaces in it.
    fn normalized(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn assert_contains(text: &str, expected: &str) {
        assert!(
            normalized(text).contains(&normalized(expected)),
            "{expected:?} is missing from the extracted text:\n{text}"
        );
    }

    /// The words `pdftotext -bbox` finds, with their horizontal extent and their top.
    fn word_boxes(pdf: &[u8]) -> Vec<(String, f32, f32, f32)> {
        let html = poppler("pdftotext", &["-bbox"], true, pdf);
        let attribute = |tag: &str, name: &str| -> f32 {
            let start = tag.find(&format!("{name}=\"")).expect("a box attribute") + name.len() + 2;
            let end = start + tag[start..].find('"').expect("a closing quote");
            tag[start..end].parse().expect("a number")
        };
        html.split("<word ")
            .skip(1)
            .map(|rest| {
                let tag_end = rest.find('>').expect("the end of the tag");
                let tag = &rest[..tag_end];
                let word_end = rest.find("</word>").expect("the end of the word");
                (
                    rest[tag_end + 1..word_end].to_owned(),
                    attribute(tag, "xMin"),
                    attribute(tag, "xMax"),
                    attribute(tag, "yMin"),
                )
            })
            .collect()
    }

    fn page_count(text: &str) -> usize {
        text.matches('\u{c}').count()
    }

    #[test]
    fn a_german_mandate_shows_every_mandatory_field_in_the_extracted_text() {
        let document = german_mandate();

        let text = pdftotext_layout(&PdfRenderer.render_pdf(&document).unwrap());

        assert_contains(&text, "SEPA-Lastschriftmandat");
        for line in &document.creditor_lines {
            assert_contains(&text, line);
        }
        for field in &document.fields {
            assert_contains(&text, &format!("{} {}", field.label, field.value));
        }
        for paragraph in &document.paragraphs {
            assert_contains(&text, paragraph);
        }
        assert_contains(&text, &document.schedule_heading);
        for line in &document.schedule {
            assert_contains(
                &text,
                &format!("{} {} {}", line.number, line.due_date, line.amount),
            );
        }
        assert_contains(
            &text,
            &format!("{} {}", document.total.label, document.total.value),
        );
        assert_contains(&text, document.signature.as_deref().unwrap());
        let fingerprint = document.fingerprint.as_ref().unwrap();
        assert_contains(&text, &fingerprint.label);
        assert_contains(&text, &fingerprint.value);
        assert_contains(&text, "1/1");
    }

    #[test]
    fn a_french_mandate_renders_its_accents_and_no_break_spaces() {
        let document = french_mandate();

        let text = pdftotext_layout(&render_mandate_pdf(&document));

        assert_contains(&text, "Mandat de prélèvement SEPA");
        assert_contains(&text, "Boulangerie Étoile SARL");
        assert_contains(&text, "Débiteur Françoise Lefèvre-Œuvray");
        assert_contains(&text, "3 place de l’Église");
        assert_contains(&text, "IBAN FR76 3000 6000 0112 3456 7890 189");
        assert_contains(&text, "Vous bénéficiez du droit d’être remboursé");
        assert!(
            !text.contains('?'),
            "a character came out as a question mark:\n{text}"
        );
        assert!(
            text.lines()
                .any(|line| line.contains("1er mars 2027") && line.contains("1 000,00 €")),
            "the amount is broken or off its row:\n{text}"
        );
        for line in &document.schedule {
            assert_contains(
                &text,
                &format!("{} {} {}", line.number, line.due_date, line.amount),
            );
        }
        assert_contains(&text, "f•••@exemple.fr");
        assert_contains(&text, &document.fingerprint.as_ref().unwrap().value);
    }

    #[test]
    fn a_plan_of_120_instalments_continues_on_further_pages_with_every_row() {
        let document = long_plan(120);

        let text = pdftotext_layout(&render_mandate_pdf(&document));

        let pages = page_count(&text);
        assert!(pages > 1, "120 instalments fit on {pages} page");
        for line in &document.schedule {
            assert_contains(
                &text,
                &format!("{} {} {}", line.number, line.due_date, line.amount),
            );
        }
        assert_contains(
            &text,
            &format!("{} {}", document.total.label, document.total.value),
        );
        for (index, page) in text.split('\u{c}').take(pages).enumerate() {
            assert_contains(page, &format!("{}/{pages}", index + 1));
            if index > 0 {
                assert_contains(page, &document.schedule_heading);
            }
        }
    }

    #[test]
    fn a_paragraph_longer_than_a_line_is_wrapped_inside_the_margins() {
        let mut document = german_mandate();
        let long_word = "Donaudampfschifffahrtsgesellschaftskapitän".repeat(4);
        document.paragraphs.push(format!(
            "{}{long_word} Ende.",
            "Dieser Absatz ist viel länger als eine Zeile der Seite. ".repeat(6)
        ));

        let words = word_boxes(&render_mandate_pdf(&document));

        for (word, left, right, _) in &words {
            assert!(
                *left >= LEFT - 0.5 && *right <= RIGHT + 0.5,
                "{word:?} runs from {left} to {right}, outside the margins {LEFT}..{RIGHT}"
            );
        }
        let lines_of_long_paragraph = words
            .iter()
            .filter(|(word, ..)| word == "Dieser")
            .map(|(_, _, _, top)| top.to_bits())
            .collect::<std::collections::BTreeSet<_>>();
        assert!(
            lines_of_long_paragraph.len() > 1,
            "the paragraph was not wrapped"
        );
        assert!(
            words.iter().any(|(word, ..)| word == "Ende."),
            "the end of the long paragraph is missing"
        );
    }

    #[test]
    fn characters_the_built_in_fonts_cannot_show_are_printed_as_question_marks() {
        let mut document = german_mandate();
        document.fields[4].value = "Zoë 🎉 山田太郎 Łukasz".to_owned();
        document.paragraphs.push("🚀".repeat(300));

        let text = pdftotext_layout(&render_mandate_pdf(&document));

        assert_contains(&text, "Zoë ? ???? ?ukasz");
        assert_contains(&text, "IBAN DE89 3704 0044 0532 0130 00");
    }

    #[test]
    fn printable_text_keeps_win_ansi_and_maps_other_spaces_and_dashes() {
        assert_eq!(printable("Straße € „x“ – œ"), "Straße € „x“ – œ");
        assert_eq!(printable("1\u{202F}000,00\u{A0}€"), "1\u{A0}000,00\u{A0}€");
        assert_eq!(printable("a\u{2009}b\u{200B}c\u{2212}1\tz"), "a bc-1 z");
        assert_eq!(printable("👍🏽 日本"), "?? ??");
    }

    #[test]
    fn text_is_measured_with_the_helvetica_metrics() {
        // H 722 + e 556 + l 222 + l 222 + o 556 = 2278 units.
        assert!((Font::Regular.width("Hello", 10.0) - 22.78).abs() < 1e-4);
        // The bold face: 722 + 556 + 278 + 278 + 611 = 2445 units.
        assert!((Font::Bold.width("Hello", 10.0) - 24.45).abs() < 1e-4);
        assert_eq!(Font::Regular.width("€", 1000.0), 556.0);
        assert_eq!(
            Font::Regular.width("\u{A0}", 1000.0),
            Font::Regular.width(" ", 1000.0)
        );
    }

    #[test]
    fn wrapping_never_breaks_an_amount_and_cuts_words_wider_than_the_line() {
        let amount = format!("1.000,00{NBSP}€");
        let lines = wrap(
            &format!("zu zahlen {amount} bis Ende"),
            Font::Regular,
            10.0,
            60.0,
        );
        assert!(lines.contains(&amount), "{lines:?}");

        let fingerprint = "0123456789abcdef".repeat(4);
        let lines = wrap(&fingerprint, Font::Regular, 10.0, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), fingerprint);
        assert!(lines.iter().all(|l| Font::Regular.width(l, 10.0) <= 100.0));
    }

    #[test]
    fn an_unsigned_mandate_has_no_signature_block() {
        let mut document = german_mandate();
        document.signature = None;
        document.fingerprint = None;

        let text = pdftotext_layout(&render_mandate_pdf(&document));

        assert!(!normalized(&text).contains("Elektronisch unterschrieben"));
        assert_contains(&text, "Gesamtbetrag");
    }

    #[test]
    fn the_same_mandate_gives_the_same_bytes() {
        let document = german_mandate();

        let first = render_mandate_pdf(&document);
        let second = render_mandate_pdf(&document);

        assert_eq!(first, second);
        assert!(first.starts_with(b"%PDF-"));
    }

    #[test]
    fn the_title_is_the_file_title() {
        let info = poppler(
            "pdfinfo",
            &["-enc", "UTF-8"],
            false,
            &render_mandate_pdf(&french_mandate()),
        );

        assert!(
            info.lines()
                .any(|line| line.starts_with("Title:")
                    && line.ends_with("Mandat de prélèvement SEPA")),
            "{info}"
        );
    }
}
