/**
 * Small shared pieces of both dashboards: the datasource variable, Prometheus queries, and panel
 * shapes (stat, time series, table) with the settings every panel of ours uses. Panel ids come from
 * a counter per dashboard, so the output is the same on every run.
 */
import {
  BigValueGraphMode,
  BigValueTextMode,
  LegendDisplayMode,
  LegendPlacement,
} from '@grafana/grafana-foundation-sdk/common';
import { ReduceDataOptionsBuilder, VizLegendOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type Threshold,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

export const DATASOURCE_VARIABLE = 'datasource';
/** Every panel and query variable reads from the dashboard's `datasource` variable. */
export const DATASOURCE = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };
export const DASHBOARD_TAGS = ['token-broker'];

/** A link to every token-broker dashboard, keeping the time range and the variables. */
export function dashboardsLink(): DashboardLinkBuilder {
  return new DashboardLinkBuilder('token-broker')
    .type(DashboardLinkType.Dashboards)
    .tags(DASHBOARD_TAGS)
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true);
}

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label('Data source').type('prometheus');
}

export interface Query {
  expr: string;
  /** Grafana legend template, e.g. `{{reason}}`. */
  legend: string;
  /** One value at the end of the range (stat and table panels) instead of a series over it. */
  instant?: boolean;
}

export interface PanelText {
  title: string;
  description: string;
  /** Grafana unit id: s, dateTimeFromNow, reqps, short, ... */
  unit: string;
  width: number;
  height: number;
}

function dataquery(query: Query, index: number): DataqueryBuilder {
  const q = new DataqueryBuilder()
    .datasource(DATASOURCE)
    .refId(String.fromCharCode(65 + index))
    .expr(query.expr)
    .legendFormat(query.legend);
  return query.instant === true ? q.instant() : q.range();
}

function thresholds(steps: Threshold[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

/** Green from the start: a neutral value. */
export const NEUTRAL: Threshold[] = [{ value: null, color: 'green' }];

/** Hands out panel ids 1, 2, 3, ... in the order the panels are declared. */
export class PanelIds {
  private next = 1;
  take(): number {
    return this.next++;
  }
}

export function row(ids: PanelIds, title: string): RowBuilder {
  return new RowBuilder(title).id(ids.take());
}

export function stat(
  ids: PanelIds,
  text: PanelText,
  queries: Query[],
  options: { steps?: Threshold[]; textMode?: BigValueTextMode; noValue?: string } = {},
): StatPanelBuilder {
  const panel = new StatPanelBuilder()
    .id(ids.take())
    .title(text.title)
    .description(text.description)
    .datasource(DATASOURCE)
    .unit(text.unit)
    .span(text.width)
    .height(text.height)
    .targets(queries.map((q, i) => dataquery({ ...q, instant: true }, i)))
    .thresholds(thresholds(options.steps ?? NEUTRAL))
    .graphMode(BigValueGraphMode.None)
    .textMode(options.textMode ?? BigValueTextMode.Auto)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  return options.noValue === undefined ? panel : panel.noValue(options.noValue);
}

export function timeseries(
  ids: PanelIds,
  text: PanelText,
  queries: Query[],
  options: { steps?: Threshold[] } = {},
): TimeseriesPanelBuilder {
  return new TimeseriesPanelBuilder()
    .id(ids.take())
    .title(text.title)
    .description(text.description)
    .datasource(DATASOURCE)
    .unit(text.unit)
    .span(text.width)
    .height(text.height)
    .targets(queries.map((q, i) => dataquery(q, i)))
    .thresholds(thresholds(options.steps ?? NEUTRAL))
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom)
        .calcs([]),
    );
}

/** One row per series of an instant query: its labels, without the time and the value columns. */
export function table(ids: PanelIds, text: PanelText, queries: Query[]): TablePanelBuilder {
  return new TablePanelBuilder()
    .id(ids.take())
    .title(text.title)
    .description(text.description)
    .datasource(DATASOURCE)
    .unit(text.unit)
    .span(text.width)
    .height(text.height)
    .targets(queries.map((q, i) => dataquery({ ...q, instant: true }, i).format(PromQueryFormat.Table)))
    .withTransformation({
      id: 'organize',
      options: { excludeByName: { Time: true, Value: true, __name__: true } },
    });
}
