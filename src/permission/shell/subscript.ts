/** An array subscript holding a command substitution, given as text (`'a[$(cmd)]'`): bash runs it where it evaluates the subscript. */
export const SUBSCRIPT_CODE = /\[[^\]]*(\$\(|`)/;
