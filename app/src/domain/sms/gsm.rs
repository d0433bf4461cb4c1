//! The GSM 03.38 default alphabet and its extension table, as Unicode.

/// Septets `c` takes in GSM-7: 1 in the basic table, 2 in the extension table (escape + code),
/// `None` when GSM-7 cannot carry it.
pub fn septets(c: char) -> Option<u8> {
    match c {
        // Basic table, in GSM code order.
        '@'
        | '£'
        | '$'
        | '¥'
        | 'è'
        | 'é'
        | 'ù'
        | 'ì'
        | 'ò'
        | 'Ç'
        | '\n'
        | 'Ø'
        | 'ø'
        | '\r'
        | 'Å'
        | 'å'
        | 'Δ'
        | '_'
        | 'Φ'
        | 'Γ'
        | 'Λ'
        | 'Ω'
        | 'Π'
        | 'Ψ'
        | 'Σ'
        | 'Θ'
        | 'Ξ'
        | 'Æ'
        | 'æ'
        | 'ß'
        | 'É'
        | ' '
        | '!'
        | '"'
        | '#'
        | '¤'
        | '%'
        | '&'
        | '\''
        | '('
        | ')'
        | '*'
        | '+'
        | ','
        | '-'
        | '.'
        | '/'
        | '0'..='9'
        | ':'
        | ';'
        | '<'
        | '='
        | '>'
        | '?'
        | '¡'
        | 'A'..='Z'
        | 'Ä'
        | 'Ö'
        | 'Ñ'
        | 'Ü'
        | '§'
        | '¿'
        | 'a'..='z'
        | 'ä'
        | 'ö'
        | 'ñ'
        | 'ü'
        | 'à' => Some(1),
        // Extension table (reached through the escape septet).
        '\u{c}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::septets;

    #[test]
    fn the_tables_have_127_basic_and_10_extension_characters() {
        let all: Vec<(char, u8)> = (0u32..0x3000)
            .filter_map(char::from_u32)
            .filter_map(|c| septets(c).map(|s| (c, s)))
            .collect();
        assert_eq!(all.iter().filter(|(_, s)| *s == 1).count(), 127);
        assert_eq!(all.iter().filter(|(_, s)| *s == 2).count(), 10);
    }

    #[test]
    fn look_alikes_are_not_gsm() {
        for c in ['ç', 'á', '`', '\t', '\u{2019}', '\u{a0}'] {
            assert_eq!(septets(c), None, "{c:?}");
        }
    }
}
