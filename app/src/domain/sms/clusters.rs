//! The characters an SMS is counted in.
//!
//! Extended grapheme clusters as Unicode defines them today, with three differences that make
//! the counts equal to the reference calculator's, whose splitter implements the Unicode 10
//! rules: a zero-width joiner only glues the emoji that Unicode 10 listed (GB11 then), a skin
//! tone only attaches to the emoji bases Unicode 10 listed (GB10), and Indic conjuncts
//! (GB9c, Unicode 15.1) are not joined. CR LF also counts as two characters, as on the wire.

use unicode_segmentation::UnicodeSegmentation;

const ZWJ: char = '\u{200d}';

pub fn clusters(text: &str) -> Vec<&str> {
    // ASCII has no multi-character clusters but CR LF, which counts as two anyway.
    if text.is_ascii() {
        return (0..text.len()).map(|i| &text[i..i + 1]).collect();
    }
    let mut out = Vec::with_capacity(text.len());
    for cluster in text.graphemes(true) {
        if cluster == "\r\n" {
            out.push(&cluster[..1]);
            out.push(&cluster[1..]);
            continue;
        }
        let mut start = 0;
        let mut prev: Option<char> = None;
        let mut base: Option<char> = None;
        let mut after_linker = false;
        for (i, c) in cluster.char_indices() {
            if let Some(p) = prev {
                let split = (p == ZWJ && !glues_after_zwj(c) && !is_linker(c) && !is_mark(c))
                    || (is_skin_tone(c) && !base.is_some_and(is_emoji_base))
                    || (after_linker && is_indic_consonant(c));
                if split {
                    out.push(&cluster[start..i]);
                    start = i;
                    base = None;
                }
            }
            if !is_mark(c) && c != ZWJ && !is_skin_tone(c) && !is_linker(c) {
                base = Some(c);
                after_linker = false;
            }
            if is_linker(c) {
                after_linker = true;
            }
            prev = Some(c);
        }
        out.push(&cluster[start..]);
    }
    out
}

/// Unicode 10's Glue_After_Zwj and E_Base_GAZ: what a ZWJ joined then.
fn glues_after_zwj(c: char) -> bool {
    matches!(c,
        '\u{2640}' | '\u{2642}' | '\u{2695}'..='\u{2696}' | '\u{2708}' | '\u{2764}'
        | '\u{1f308}' | '\u{1f33e}' | '\u{1f373}' | '\u{1f393}' | '\u{1f3a4}' | '\u{1f3a8}'
        | '\u{1f3eb}' | '\u{1f3ed}' | '\u{1f48b}' | '\u{1f4bb}'..='\u{1f4bc}' | '\u{1f527}'
        | '\u{1f52c}' | '\u{1f5e8}' | '\u{1f680}' | '\u{1f692}' | '\u{1f466}'..='\u{1f469}')
}

/// Unicode 10's E_Base and E_Base_GAZ: what a skin tone attached to then.
fn is_emoji_base(c: char) -> bool {
    matches!(c,
        '\u{261d}' | '\u{26f9}' | '\u{270a}'..='\u{270d}' | '\u{1f385}' | '\u{1f3c2}'..='\u{1f3c4}'
        | '\u{1f3c7}' | '\u{1f3ca}'..='\u{1f3cc}' | '\u{1f442}'..='\u{1f443}' | '\u{1f446}'..='\u{1f450}'
        | '\u{1f466}'..='\u{1f469}' | '\u{1f46e}' | '\u{1f470}'..='\u{1f478}' | '\u{1f47c}'
        | '\u{1f481}'..='\u{1f483}' | '\u{1f485}'..='\u{1f487}' | '\u{1f4aa}' | '\u{1f574}'..='\u{1f575}'
        | '\u{1f57a}' | '\u{1f590}' | '\u{1f595}'..='\u{1f596}' | '\u{1f645}'..='\u{1f647}'
        | '\u{1f64b}'..='\u{1f64f}' | '\u{1f6a3}' | '\u{1f6b4}'..='\u{1f6b6}' | '\u{1f6c0}' | '\u{1f6cc}'
        | '\u{1f918}'..='\u{1f91c}' | '\u{1f91e}'..='\u{1f91f}' | '\u{1f926}' | '\u{1f930}'..='\u{1f939}'
        | '\u{1f93d}'..='\u{1f93e}' | '\u{1f9d1}'..='\u{1f9dd}')
}

fn is_skin_tone(c: char) -> bool {
    matches!(c, '\u{1f3fb}'..='\u{1f3ff}')
}

/// Viramas of the scripts whose conjuncts Unicode 15.1 joins (InCB=Linker).
fn is_linker(c: char) -> bool {
    matches!(
        c,
        '\u{94d}' | '\u{9cd}' | '\u{acd}' | '\u{b4d}' | '\u{c4d}' | '\u{d4d}'
    )
}

/// Consonants of those scripts (InCB=Consonant).
fn is_indic_consonant(c: char) -> bool {
    matches!(c,
        '\u{915}'..='\u{939}' | '\u{958}'..='\u{95f}' | '\u{978}'..='\u{97f}'
        | '\u{995}'..='\u{9b9}' | '\u{9dc}'..='\u{9df}' | '\u{9f0}'..='\u{9f1}'
        | '\u{a95}'..='\u{ab9}' | '\u{af9}'
        | '\u{b15}'..='\u{b39}' | '\u{b5c}'..='\u{b5f}' | '\u{b71}'
        | '\u{c15}'..='\u{c39}' | '\u{c58}'..='\u{c5a}'
        | '\u{d15}'..='\u{d3a}')
}

/// Combining marks and variation selectors, which attach to what precedes them in every
/// Unicode version (GB9).
fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{300}'..='\u{36f}' | '\u{483}'..='\u{489}' | '\u{591}'..='\u{5bd}' | '\u{610}'..='\u{61a}'
        | '\u{64b}'..='\u{65f}' | '\u{900}'..='\u{903}' | '\u{93a}'..='\u{94f}' | '\u{951}'..='\u{957}'
        | '\u{962}'..='\u{963}' | '\u{981}'..='\u{983}' | '\u{9bc}'..='\u{9d7}' | '\u{a81}'..='\u{a83}'
        | '\u{abc}'..='\u{acd}' | '\u{b01}'..='\u{b03}' | '\u{b3c}'..='\u{b57}' | '\u{c00}'..='\u{c04}'
        | '\u{c3c}'..='\u{c56}' | '\u{d00}'..='\u{d03}' | '\u{d3b}'..='\u{d57}' | '\u{e31}' | '\u{e34}'..='\u{e3a}'
        | '\u{e47}'..='\u{e4e}' | '\u{1ab0}'..='\u{1aff}' | '\u{1dc0}'..='\u{1dff}' | '\u{20d0}'..='\u{20ff}'
        | '\u{fe00}'..='\u{fe0f}' | '\u{fe20}'..='\u{fe2f}' | '\u{e0020}'..='\u{e007f}' | '\u{e0100}'..='\u{e01ef}')
}

#[cfg(test)]
mod tests {
    use super::clusters;

    #[test]
    fn unicode_10_emoji_sequences_stay_whole() {
        for s in ["👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🤷‍♀️", "👍🏽", "🧑🏿‍🚀", "🇪🇸", "1️⃣"]
        {
            assert_eq!(clusters(s), vec![s], "{s}");
        }
    }

    #[test]
    fn later_zwj_sequences_split_where_unicode_10_did() {
        assert_eq!(clusters("❤️‍🔥"), vec!["❤\u{fe0f}\u{200d}", "🔥"]);
        assert_eq!(clusters("😶‍🌫️"), vec!["😶\u{200d}", "🌫\u{fe0f}"]);
    }

    #[test]
    fn skin_tones_only_attach_to_unicode_10_bases() {
        assert_eq!(clusters("🫶🏽"), vec!["🫶", "🏽"]);
        assert_eq!(clusters("a🏽"), vec!["a", "🏽"]);
    }

    #[test]
    fn conjuncts_split_after_the_virama() {
        assert_eq!(clusters("क्ष"), vec!["क्", "ष"]);
        assert_eq!(clusters("नमस्ते"), vec!["न", "म", "स्", "ते"]);
    }

    #[test]
    fn crlf_is_two_characters() {
        assert_eq!(clusters("a\r\nb"), vec!["a", "\r", "\n", "b"]);
    }
}
