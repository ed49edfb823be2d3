use super::*;

#[test]
fn ids_match_positions() {
    for (i, c) in CARDS.iter().enumerate() {
        assert_eq!(c.id as usize, i, "{}", c.name);
    }
}
