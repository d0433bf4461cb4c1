//! Smart encoding: characters that look like GSM-7 ones (typographic quotes, dashes, special
//! spaces, full-width forms, small capitals, …) replaced by them, so a message stays GSM-7.
//! The table follows the replacements of Twilio's Smart Encoding as its calculator applies them.

/// `text` with every look-alike replaced.
pub fn smart_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match replacement(c) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    out
}

/// The GSM-7 text that stands in for `c`, if it has one.
pub fn replacement(c: char) -> Option<&'static str> {
    // Full-width digits and capitals (U+FF10–U+FF19, U+FF21–U+FF3A) map by offset to ASCII.
    if let '\u{ff10}'..='\u{ff19}' | '\u{ff21}'..='\u{ff3a}' = c {
        return ASCII.get((c as u32 - 0xff00) as usize).copied();
    }
    let r = match c {
        '\u{ab}' | '\u{bb}' | '\u{201c}' | '\u{201d}' | '\u{2ba}' | '\u{2ee}' | '\u{201f}'
        | '\u{201e}' | '\u{275d}' | '\u{275e}' | '\u{301d}' | '\u{301e}' | '\u{ff02}' => "\"",
        '\u{2018}' | '\u{2019}' | '\u{2bb}' | '\u{2c8}' | '\u{2bc}' | '\u{2bd}' | '\u{2b9}'
        | '\u{201b}' | '\u{ff07}' | '\u{b4}' | '\u{2ca}' | '`' | '\u{2cb}' | '\u{275b}'
        | '\u{275c}' | '\u{313}' | '\u{314}' | '\u{fe10}' | '\u{fe11}' => "'",
        '\u{f7}' | '\u{29f8}' | '\u{337}' | '\u{338}' | '\u{2044}' | '\u{2215}' | '\u{ff0f}' => "/",
        '\u{bc}' => "1/4",
        '\u{bd}' => "1/2",
        '\u{be}' => "3/4",
        '\u{29f9}' | '\u{29f5}' | '\u{20e5}' | '\u{fe68}' | '\u{ff3c}' => "\\",
        '\u{332}' | '\u{ff3f}' | '\u{2017}' => "_",
        '\u{20d2}' | '\u{20d3}' | '\u{2223}' | '\u{ff5c}' | '\u{23b8}' | '\u{23b9}'
        | '\u{23d0}' | '\u{239c}' | '\u{239f}' => "|",
        '\u{23bc}' | '\u{23bd}' | '\u{2015}' | '\u{fe63}' | '\u{ff0d}' | '\u{2010}'
        | '\u{2043}' | '\u{2014}' | '\u{2013}' | '\u{2022}' => "-",
        '\u{fe6b}' | '\u{ff20}' => "@",
        '\u{fe69}' | '\u{ff04}' => "$",
        '\u{1c3}' | '\u{fe15}' | '\u{fe57}' | '\u{ff01}' => "!",
        '\u{fe5f}' | '\u{ff03}' => "#",
        '\u{fe6a}' | '\u{ff05}' => "%",
        '\u{fe60}' | '\u{ff06}' => "&",
        '\u{201a}' | '\u{326}' | '\u{fe50}' | '\u{fe51}' | '\u{ff0c}' | '\u{ff64}' | '\u{3001}' => {
            ","
        }
        '\u{2768}' | '\u{276a}' | '\u{fe59}' | '\u{ff08}' | '\u{27ee}' | '\u{2985}' => "(",
        '\u{2769}' | '\u{276b}' | '\u{fe5a}' | '\u{ff09}' | '\u{27ef}' | '\u{2986}' => ")",
        '\u{204e}'
        | '\u{2217}'
        | '\u{229b}'
        | '\u{2722}'..='\u{2725}'
        | '\u{2731}'..='\u{2733}'
        | '\u{273a}'..='\u{273d}'
        | '\u{2743}'
        | '\u{2749}'..='\u{274b}'
        | '\u{29c6}'
        | '\u{fe61}'
        | '\u{ff0a}' => "*",
        '\u{2d6}' | '\u{fe62}' | '\u{ff0b}' => "+",
        '\u{3002}' | '\u{fe52}' | '\u{ff0e}' | '\u{ff61}' => ".",
        '\u{2d0}' | '\u{2f8}' | '\u{2982}' | '\u{a789}' | '\u{fe13}' | '\u{ff1a}' => ":",
        '\u{204f}' | '\u{fe14}' | '\u{fe54}' | '\u{ff1b}' => ";",
        '\u{fe64}' | '\u{ff1c}' | '\u{2039}' => "<",
        '\u{347}' | '\u{a78a}' | '\u{fe66}' | '\u{ff1d}' => "=",
        '\u{fe65}' | '\u{ff1e}' | '\u{203a}' => ">",
        '\u{fe16}' | '\u{fe56}' | '\u{ff1f}' => "?",
        '\u{2c6}' | '\u{302}' | '\u{ff3e}' | '\u{1dcd}' => "^",
        '\u{2774}' | '\u{fe5b}' | '\u{ff5b}' => "{",
        '\u{2775}' | '\u{fe5c}' | '\u{ff5d}' => "}",
        '\u{ff3b}' => "[",
        '\u{ff3d}' => "]",
        '\u{2dc}' | '\u{2f7}' | '\u{303}' | '\u{330}' | '\u{334}' | '\u{223c}' | '\u{ff5e}' => "~",
        // Small capitals.
        '\u{1d00}' => "A",
        '\u{299}' => "B",
        '\u{1d04}' => "C",
        '\u{1d05}' => "D",
        '\u{1d07}' => "E",
        '\u{a730}' => "F",
        '\u{262}' => "G",
        '\u{29c}' => "H",
        '\u{26a}' => "I",
        '\u{1d0a}' => "J",
        '\u{1d0b}' => "K",
        '\u{29f}' => "L",
        '\u{1d0d}' => "M",
        '\u{274}' => "N",
        '\u{1d0f}' => "O",
        '\u{1d18}' => "P",
        '\u{280}' => "R",
        '\u{a731}' => "S",
        '\u{1d1b}' => "T",
        '\u{1d1c}' => "U",
        '\u{1d20}' => "V",
        '\u{1d21}' => "W",
        '\u{28f}' => "Y",
        '\u{1d22}' => "Z",
        // Spaces and invisible characters. (The reference widens these three groups, so the
        // counts agree with it: no-break and typographic spaces become two spaces, a tab seven.)
        '\u{a0}'
        | '\u{2000}'
        | '\u{2002}'..='\u{200a}'
        | '\u{202f}'
        | '\u{205f}'
        | '\u{3000}'
        | '\u{8d}'
        | '\u{9f}'
        | '\u{80}'
        | '\u{90}'
        | '\u{9b}' => "  ",
        '\t' => "       ",
        '\u{2028}' | '\u{2029}' | '\u{2001}' => " ",
        '\u{10}'
        | '\u{0}'
        | '\u{3}'
        | '\u{4}'
        | '\u{17}'
        | '\u{19}'
        | '\u{11}'..='\u{14}'
        | '\u{2060}'
        | '\u{200b}'
        | '\u{200c}'
        | '\u{feff}' => "",
        '\u{203c}' => "!!",
        '\u{2026}' => "...",
        _ => return None,
    };
    Some(r)
}

/// Printable ASCII from U+0020, indexed by `c - U+FF00` for the full-width block.
const ASCII: [&str; 0x5f] = [
    " ", "!", "\"", "#", "$", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", "0", "1", "2",
    "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?", "@", "A", "B", "C", "D", "E",
    "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X",
    "Y", "Z", "[", "\\", "]", "^", "_", "`", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k",
    "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "{", "|", "}", "~",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_forms_become_ascii() {
        assert_eq!(smart_encode("\u{ff21}\u{ff22}\u{ff11}\u{ff12}"), "AB12");
    }

    #[test]
    fn invisible_characters_disappear() {
        assert_eq!(smart_encode("a\u{200b}b\u{feff}"), "ab");
    }

    #[test]
    fn plain_gsm_text_is_unchanged() {
        let text = "Hi Ana, your code is SUMMER-4821 (20% off) @ shop.";
        assert_eq!(smart_encode(text), text);
    }
}
