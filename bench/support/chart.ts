/**
 * A horizontal bar chart in a text block: it renders the same on GitHub, in a terminal and in any
 * Markdown viewer, which Mermaid's charts do not. A rule marks the baseline (1.00×).
 */
export function barChart(caption: string, bars: Array<{ label: string; value: number }>): string {
  const width = 40;
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const labelWidth = Math.max(...bars.map((bar) => bar.label.length));
  const baseline = Math.round((1 / max) * width);
  const lines = bars.map(({ label, value }) => {
    const filled = Math.max(1, Math.round((value / max) * width));
    const cells = Array.from({ length: width }, (_, i) =>
      i < filled ? '█' : i === baseline - 1 ? '┆' : ' ',
    );
    return `${label.padEnd(labelWidth)} │${cells.join('')} ${value.toFixed(value < 0.1 ? 3 : 2)}×`;
  });
  return [`**${caption}** (┆ marks 1.00×)`, '', '```text', ...lines, '```'].join('\n');
}
